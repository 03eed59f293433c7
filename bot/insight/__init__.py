"""What the centre learns from its chats: figures, satisfaction, and the NLU review loop."""
