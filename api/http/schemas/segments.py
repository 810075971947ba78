"""Models of ``/v1/segments`` and ``/v1/tags``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SegmentCreate",
    "SegmentPublic",
    "SegmentsPublic",
    "SegmentDetail",
    "MemberPublic",
    "MembersPage",
    "TagChange",
    "TagChanges",
    "TagWriteResult",
    "TagsPublic",
    "UserTagPublic",
]

_EXAMPLE = (
    "role = consumer and community in (3, 7) and forwards(30d) >= 2 and not tag:fraud_held "
    "and channel_pref = 'xiaohongshu'"
)


class SegmentCreate(BaseModel):
    """A segment to save (a new version when the name exists)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$", examples=["xhs-fans"])
    expression: str = Field(min_length=1, max_length=10_000, examples=[_EXAMPLE])
    description: str | None = Field(None, max_length=1000)


class SegmentPublic(BaseModel):
    """A saved or built-in segment, with its members in the latest run."""

    name: str = Field(examples=["xhs-fans"])
    expression: str = Field(examples=[_EXAMPLE])
    version: int = Field(examples=[2])
    description: str | None = None
    builtin: bool = False
    members: int | None = Field(None, description="Members in the latest run (null: no run).")
    error: str | None = Field(None, description="Why it could not be evaluated.")
    run_id: str | None = None
    created_at: str | None = None
    created_by: str | None = None


class SegmentsPublic(BaseModel):
    data: list[SegmentPublic]
    count: int


class SegmentDetail(BaseModel):
    """One segment with its versions and members now and in the previous run."""

    name: str
    expression: str
    version: int
    description: str | None = None
    builtin: bool
    uses: dict[str, list[str]] = Field(description="Fields, facts and tags it names.")
    run_id: str
    members: int
    previous_run_id: str | None = None
    previous_members: int | None = None
    change: int | None = None
    versions: list[dict[str, object]] = Field(default_factory=list)
    history: list[dict[str, object]] = Field(default_factory=list)


class MemberPublic(BaseModel):
    rank: int
    user_id: str
    score: float
    role: str | None = None
    community: int | None = None
    stage: str | None = None
    tier: str | None = None
    channel_pref: str | None = None


class MembersPage(BaseModel):
    """One page of a segment's members, best rank first."""

    segment: dict[str, object]
    run_id: str
    total: int = Field(description="Members in the run (all pages).")
    offset: int
    data: list[MemberPublic]
    next_offset: int | None = Field(None, description="`offset` of the next page (null: last).")


class TagChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=128, examples=["u0000042"])
    tag: str = Field(min_length=1, max_length=64, examples=["vip"])
    action: Literal["set", "remove"] = "set"


class TagChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes: list[TagChange] = Field(min_length=1, max_length=10_000)


class TagWriteResult(BaseModel):
    read: int
    set: int
    removed: int
    unchanged: int
    unknown_users: int = Field(description="Tagged users the store has no record of (kept).")


class TagsPublic(BaseModel):
    user_tags: dict[str, int] = Field(description="Users per user tag in effect.")
    fact_tags: list[str]
    fact_tag_families: list[str]


class UserTagPublic(BaseModel):
    tag: str
    kind: Literal["user", "fact"] = Field(
        description="user: imported or set over the API; fact: computed from a run or the ledger"
    )
    source: str = Field(
        description="The file, `api:<key name>`, `run:<run id>` or `ledger:<entry id>`"
    )
    tagged_at: str = Field(description="When it was set (fact tags: when the run stored them)")
    rule: str | None = Field(default=None, description="What a fact tag stands for")
    run_id: str | None = None
