"""carekey.interfaces.web"""
