"""carekey.interfaces.api"""
