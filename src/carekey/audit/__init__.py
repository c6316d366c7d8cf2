"""carekey.audit"""
