"""carekey.stats"""
