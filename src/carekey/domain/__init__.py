"""carekey.domain"""
