"""carekey.policy"""
