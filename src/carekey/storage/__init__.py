"""carekey.storage"""
