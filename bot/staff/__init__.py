"""Staff console: officers answer escalated chats and process dossiers (`/staff`)."""
