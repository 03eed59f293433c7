"""Which channels a status change is told on, decided in the status change's own transaction (no network).

Order of preference per dossier: the conversation itself while its platform window lets a message go out
now (connectors/window.py: Zalo replies and CS messages, Messenger's 24 h; never a bot-written HUMAN_AGENT),
then the push channels the citizen chose (Zalo ZNS by phone, SMS). A web-chat or console conversation has no
push: its message waits in the chat for the citizen, so the choice is what makes a notification reach them.
Without any choice the message is kept for the chat as before (held until the citizen writes again).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.messages import Reply
from bot.models import Conversation, Dossier, Notification
from bot.notify import content
from bot.notify.preference import current, push_order
from bot.transcript import enqueue
from connectors.window import decide

PLATFORMS = ("zalo", "facebook")  # channels that can push a message to the citizen's phone


def chat_open(conversation: Conversation, now: datetime, zalo_transaction: bool = False) -> bool:
    """Whether a bot-written notification may go out in the conversation now."""
    if conversation.channel not in PLATFORMS:
        return False
    return decide(conversation.channel, purpose="notification", author="bot",
                  last_inbound_at=conversation.last_inbound_at,
                  last_inbound_message_id=conversation.last_inbound_message_id, now=now,
                  zalo_transaction=zalo_transaction).allowed


def notify(session: Session, dossier: Dossier, conversation: Conversation | None, reply: Reply,
           now: datetime) -> Notification:
    """Record the notification of `dossier`'s new status and queue what goes out in the chat."""
    choice = current(session, conversation.id if conversation else None)
    pushes = push_order(choice) if dossier.phone else []
    channels: list[str] = []
    outbox_id = None
    if conversation is not None:
        open_now = chat_open(conversation, now)
        if open_now:
            channels.append("chat")
        # The transcript keeps every notice; on Zalo/Messenger a closed window would hold it for the
        # citizen's next message, which is pointless when a push channel tells them now.
        if open_now or conversation.channel not in PLATFORMS or not pushes:
            item = enqueue(session, conversation, reply, purpose="notification")
            session.flush()
            outbox_id = item.id
    channels += pushes
    row = Notification(dossier_id=dossier.id, dossier_status=dossier.status, text=reply.text or "",
                       fields=content.fields(dossier), channels=channels,
                       channel=channels[0] if channels else None,
                       state="pending" if channels else "none", outbox_id=outbox_id,
                       next_attempt_at=now, created_at=now, tries=[],
                       error=None if channels else "no channel reaches the citizen")
    session.add(row)
    return row
