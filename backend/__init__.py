"""seedscope API side: settings, database, domain, statistics and the HTTP app. Never imports torch."""
