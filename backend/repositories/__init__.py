"""Database access. Functions take a Session and return pydantic read models, never ORM rows."""
