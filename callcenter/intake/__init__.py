"""What strangers may send in: the words of input refusals, and the storage quota of public uploads."""
