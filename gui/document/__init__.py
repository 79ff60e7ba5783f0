"""The session as one observable object (Qt-free): the document, its session file form."""
