"""Conversation logic: the dialogue manager (`flows.dialogue.handle_turn`) and the declarative flow
engine that runs the flows written in `data/flows/*.yml`."""
