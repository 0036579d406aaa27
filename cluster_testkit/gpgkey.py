"""A throwaway GnuPG signing key (RSA 2048, no passphrase) in its own home directory."""
import os
import subprocess

PARAMS = """%no-protection
Key-Type: RSA
Key-Length: 2048
Key-Usage: sign
Name-Real: Cluster Test Signing Key
Name-Email: {email}
Expire-Date: 0
%commit
"""


def make_key(home, email="cluster-signing@example.invalid"):
    """Create the key in GnuPG home `home`; returns (key id to sign with, armored public key)."""
    os.makedirs(home, mode=0o700, exist_ok=True)
    subprocess.run(["gpg", "--homedir", home, "--batch", "--gen-key"], input=PARAMS.format(email=email).encode(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    public = subprocess.run(["gpg", "--homedir", home, "--batch", "--armor", "--export", email],
                            stdout=subprocess.PIPE, check=True).stdout
    return email, public
