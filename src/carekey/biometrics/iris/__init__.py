"""carekey.biometrics.iris"""
