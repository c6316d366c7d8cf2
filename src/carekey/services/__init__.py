"""carekey.services"""
