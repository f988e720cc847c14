"""Stored incentive policies (every edit a new version) and saved evaluations.

A policy file's text is the source of truth: each `PolicyVersion` keeps the YAML exactly as
uploaded (or loaded from `seed/policies/`), so any version can be compiled and read again.
A `SavedEvaluation` keeps its results as they were shown, with the policy versions used,
so later edits of a policy never change it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db


class StoredPolicy(db.Model):
    """A policy (by the id its file gives) and which of its versions is current."""

    __tablename__ = "incentive_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)  # the file's `id`
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PolicyVersion(db.Model):
    """One version of a policy: its YAML text and, for lists, a summary of what it says.

    `content_hash` is the SHA-256 of the parsed policy (its canonical JSON, the version
    number left out), so a file that only changes comments or layout is not a new version.
    `origin` says where the text came from: `seed`, `upload` or `editor`.
    """

    __tablename__ = "incentive_policy_version"
    __table_args__ = (UniqueConstraint("policy_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("incentive_policy.id"), index=True)
    number: Mapped[int]
    source_text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(200))
    title_zh: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(16))
    covers: Mapped[list[str]] = mapped_column(default=list)
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    measure_count: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedEvaluation(db.Model):
    """An evaluation of a project in a zone on a date, kept exactly as it was shown.

    `results` holds each measure's result (the API shape, explanations in both languages);
    `policy_versions` maps each policy evaluated to the version number used.
    """

    __tablename__ = "incentive_evaluation"
    __table_args__ = (Index("ix_incentive_evaluation_project", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    zone_code: Mapped[str] = mapped_column(String(64))
    zone_level: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[date]
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results: Mapped[list[Any]] = mapped_column(JSON, default=list)
    total_applies: Mapped[Decimal]
    total_by_assessment_cap: Mapped[Decimal]
    by_assessment_without_cap: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    policy_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
