"""carekey.biometrics"""
