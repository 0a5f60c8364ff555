"""The LLM judges' reply cache, in the database (table judge_replies): shared by every worker that shares
the database, wherever it runs."""

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.db import dialect_insert
from backend.models import JudgeReply, utcnow


class DatabaseReplies:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        with self._sessions() as session:
            rows = session.execute(
                select(JudgeReply.key, JudgeReply.reply).where(JudgeReply.key.in_(list(keys)))
            )
            return {key: reply for key, reply in rows}

    def put_many(self, replies: Mapping[str, str]) -> None:
        rows = [{"key": key, "reply": reply, "created_at": utcnow()} for key, reply in replies.items()]
        with self._sessions.begin() as session:
            session.execute(
                dialect_insert(session)(JudgeReply)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["key"])
            )
