"""What the JSON API takes and returns, one module per area. Read models (`XRead`) are built from
rows inside the repositories; ORM objects never leave them."""
