"""Knowledge base (知识库): versioned articles and Chinese full-text search."""
