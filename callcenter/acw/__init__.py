"""After-call work (话后处理): an automatic, timed ``wrap-up`` pause after each queue call."""
