"""Rules for addresses and URLs that users choose and the server or a worker then reaches."""
