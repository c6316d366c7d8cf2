"""carekey.biometrics.fingerprint"""
