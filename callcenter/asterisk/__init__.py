"""Protocol adapters: the only package that speaks AMI and AGI or runs Asterisk itself."""
