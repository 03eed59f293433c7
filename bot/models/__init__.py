"""All persistent models. Importing this package registers every table on `Base.metadata`."""

from bot.models.channel_token import ChannelToken
from bot.models.consent import ConsentRecord, ErasureRecord
from bot.models.conversation import Conversation, Message
from bot.models.dossier import Dossier, DossierDocument, DossierSequence, DossierStatusChange, StoredFile
from bot.models.event import InboundEvent
from bot.models.insight import NluExample, NluModelRecord, SatisfactionRating
from bot.models.lifecycle import MaintenanceLease
from bot.models.notification import Notification, NotificationPreference
from bot.models.outbox import OutboxMessage
from bot.models.staff import AuditLog, StaffSession, StaffUser

__all__ = [
    "AuditLog",
    "ChannelToken",
    "ConsentRecord",
    "Conversation",
    "Dossier",
    "DossierDocument",
    "DossierSequence",
    "DossierStatusChange",
    "ErasureRecord",
    "InboundEvent",
    "MaintenanceLease",
    "Message",
    "NluExample",
    "NluModelRecord",
    "Notification",
    "NotificationPreference",
    "OutboxMessage",
    "SatisfactionRating",
    "StaffSession",
    "StaffUser",
    "StoredFile",
]
