"""Users: people who sign in to the web app or the API."""

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cei.extensions import db
from cei.models.types import UTCDateTime, utcnow

ROLES = ("admin", "member")


class User(UserMixin, db.Model):
    """A person belonging to exactly one organization."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Stored lower-cased, so the unique constraint makes emails case-insensitive.
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="admin")
    # Bumped by logout and password change: every token and session carrying an older
    # value stops working.
    session_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at = mapped_column(UTCDateTime)

    organization = relationship("Organization", lazy="joined")

    @property
    def is_admin(self):
        """Tell whether the user administers the organization."""
        return self.role == "admin"

    def get_id(self):
        """Session identity: id plus version, so a bumped version ends old sessions."""
        return f"{self.id}:{self.session_version}"
