"""Release signatures: publisher key files, signing a manifest, and checking it against trusted keys.

Two suites. `ed25519-sha256` (default): Ed25519 (RFC 8032) over the manifest bytes, file digests
SHA-256. `sm2-sm3`: SM2 signatures (GB/T 32918.2) with the SM3 digest (GB/T 32905) of Z || manifest,
Z from the default signer id 1234567812345678, file digests SM3 as well as SHA-256. Ed25519 and
SM3 come from `cryptography` (OpenSSL); SM2 point arithmetic from `gmssl`, with the nonce drawn
from `secrets` and the range checks of the standard's verification steps B1-B2 done here.

A key is a pair of JSON files: `<name>.key` (private, mode 0600, never printed or logged) and
`<name>.pub` (suite, key id, public key, owner). Verification trusts only public keys found in the
trust store (files or directories named by --trusted-keys / $YULIAO_TRUSTED_KEYS, plus
`<workspace>/keys/trusted/`), never the key a signature file carries.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

SIGNATURE = "manifest.sig"  # beside manifest.json; release_store lists it among the files a release may hold

SIGNATURE_FORMAT = "yuliao-signature/1"
KEY_FORMAT = "yuliao-key/1"
SIGNING_KEY_ENV = "YULIAO_SIGNING_KEY"
TRUSTED_KEYS_ENV = "YULIAO_TRUSTED_KEYS"
DEFAULT_KEY_NAME = "publisher"
SM2_SIGNER_ID = b"1234567812345678"  # GB/T 35276 default distinguishing identifier

Suite = Literal["ed25519-sha256", "sm2-sm3"]
SUITES: tuple[str, ...] = ("ed25519-sha256", "sm2-sm3")
SUITE_ALIASES = {"ed25519": "ed25519-sha256", "ed25519-sha256": "ed25519-sha256", "sm2": "sm2-sm3", "sm2-sm3": "sm2-sm3"}


class SignatureError(RuntimeError):
    """A release is unsigned, signed by an untrusted key, or its signature does not match."""


class KeyFileError(RuntimeError):
    """A key file is missing, unreadable or of the wrong kind."""


# ---------------------------------------------------------------- digests


def sm3_digest(data: bytes) -> bytes:
    """Return the SM3 digest (GB/T 32905) of `data`."""
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def file_sm3(path: Path) -> str:
    """Return the hex SM3 digest of a file, read in 1 MiB chunks."""
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.finalize().hex()


# ---------------------------------------------------------------- SM2 (GB/T 32918.2)


def _sm2():
    from gmssl import sm2

    return sm2


def _sm2_n() -> int:
    return int(_sm2().default_ecc_table["n"], 16)


def sm2_public_from_private(private_hex: str) -> str:
    """Return the uncompressed public point x||y (128 hex digits) of an SM2 private scalar."""
    sm2 = _sm2()
    engine = sm2.CryptSM2(private_key=private_hex, public_key="")
    return engine._kg(int(private_hex, 16), sm2.default_ecc_table["g"])  # gmssl has no public name for kG


def sm2_on_curve(public_hex: str) -> bool:
    """Return True when x||y is a point of the SM2 recommended curve."""
    table = _sm2().default_ecc_table
    if len(public_hex) != 128:
        return False
    try:
        x, y = int(public_hex[:64], 16), int(public_hex[64:], 16)
    except ValueError:
        return False
    p, a, b = (int(table[k], 16) for k in ("p", "a", "b"))
    return 0 <= x < p and 0 <= y < p and (y * y - (x * x * x + a * x + b)) % p == 0


def sm2_message_digest(public_hex: str, message: bytes, signer_id: bytes = SM2_SIGNER_ID) -> bytes:
    """Return e = SM3(Z_A || M) with Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA)."""
    table = _sm2().default_ecc_table
    z_input = (len(signer_id) * 8).to_bytes(2, "big") + signer_id + bytes.fromhex(
        table["a"] + table["b"] + table["g"] + public_hex)
    return sm3_digest(sm3_digest(z_input) + message)


def sm2_sign_digest(private_hex: str, digest: bytes, nonce_hex: str | None = None) -> str:
    """Return the SM2 signature r||s (128 hex digits) of a digest e; the nonce is random unless given (test vectors)."""
    sm2 = _sm2()
    engine = sm2.CryptSM2(private_key=private_hex, public_key="")
    n = _sm2_n()
    while True:
        k = nonce_hex or f"{secrets.randbelow(n - 1) + 1:064x}"
        sig = engine.sign(digest, k)
        if sig is not None:
            return sig
        if nonce_hex is not None:
            raise ValueError("this nonce gives r = 0 or r + k = n; the standard draws another")


def sm2_verify_digest(public_hex: str, signature_hex: str, digest: bytes) -> bool:
    """Return True when r||s is a valid SM2 signature of e under the public point x||y."""
    if len(signature_hex) != 128 or not sm2_on_curve(public_hex):
        return False
    try:
        r, s = int(signature_hex[:64], 16), int(signature_hex[64:], 16)
    except ValueError:
        return False
    n = _sm2_n()
    if not (1 <= r < n and 1 <= s < n):  # steps B1-B2, which gmssl leaves out
        return False
    engine = _sm2().CryptSM2(private_key="", public_key="")
    # gmssl strips a leading "04" (SEC1 marker) with lstrip("04"), which eats the first digits of the
    # 1 in 256 public points whose x starts with 0x04; setting the attribute skips that parse.
    engine.public_key = public_hex
    return bool(engine.verify(signature_hex, digest))


# ---------------------------------------------------------------- keys


@dataclass(frozen=True)
class PublicKey:
    """A public key from a .pub file (or a private key's public half)."""

    suite: str
    key_id: str
    public: str  # hex: Ed25519 raw 32 bytes, SM2 x||y
    owner: str
    path: str = ""


@dataclass(frozen=True)
class PrivateKey:
    """A private key loaded from a .key file; repr never shows the secret."""

    suite: str
    key_id: str
    public: str
    owner: str
    secret: str  # hex: Ed25519 seed, SM2 scalar

    def __repr__(self) -> str:  # keep the secret out of tracebacks and logs
        return f"PrivateKey(suite={self.suite!r}, key_id={self.key_id!r}, owner={self.owner!r})"

    def public_key(self) -> PublicKey:
        return PublicKey(self.suite, self.key_id, self.public, self.owner)


def key_id_of(suite: str, public_hex: str) -> str:
    """Return a key's id: the first 16 hex digits of sha256(suite ':' public key)."""
    return hashlib.sha256(f"{suite}:{public_hex}".encode()).hexdigest()[:16]


def normalise_suite(name: str) -> str:
    """Return the canonical suite name for `ed25519`, `sm2` or a full suite name."""
    try:
        return SUITE_ALIASES[name.lower()]
    except KeyError:
        raise KeyFileError(f"unknown signature suite {name!r}; use one of {', '.join(SUITES)}") from None


def new_private_key(suite: str, owner: str) -> PrivateKey:
    """Return a fresh private key of `suite` (random from the OS)."""
    suite = normalise_suite(suite)
    if suite == "ed25519-sha256":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        secret = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption()).hex()
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    else:
        secret = f"{secrets.randbelow(_sm2_n() - 2) + 1:064x}"  # d in [1, n-2]
        public = sm2_public_from_private(secret)
    return PrivateKey(suite, key_id_of(suite, public), public, owner, secret)


def write_key_pair(key: PrivateKey, directory: Path, name: str) -> tuple[Path, Path]:
    """Write `<name>.key` (0600, created exclusively: never overwrites) and `<name>.pub`; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    priv, pub = directory / f"{name}.key", directory / f"{name}.pub"
    if priv.exists() or pub.exists():
        raise KeyFileError(f"{priv} or {pub} already exists; choose another --name or remove the old pair on purpose")
    created = datetime.now(timezone.utc).isoformat()
    body = {"format": KEY_FORMAT, "kind": "private", "suite": key.suite, "key_id": key.key_id, "owner": key.owner,
            "public_key": key.public, "private_key": key.secret, "created_at": created}
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=2)
        fh.write("\n")
    write_public_key(key.public_key(), pub, created)
    return priv, pub


def write_public_key(key: PublicKey, path: Path, created_at: str | None = None) -> None:
    """Write a .pub file for `key`."""
    body = {"format": KEY_FORMAT, "kind": "public", "suite": key.suite, "key_id": key.key_id, "owner": key.owner,
            "public_key": key.public, "created_at": created_at or datetime.now(timezone.utc).isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def _read_key_json(path: Path, kind: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path}: not a yuliao key file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != KEY_FORMAT or data.get("kind") != kind:
        raise KeyFileError(f"{path}: not a yuliao {kind} key file (expected format {KEY_FORMAT}, kind {kind})")
    if data.get("suite") not in SUITES:
        raise KeyFileError(f"{path}: unknown suite {data.get('suite')!r}")
    if key_id_of(data["suite"], data.get("public_key", "")) != data.get("key_id"):
        raise KeyFileError(f"{path}: key id does not match the public key (edited or damaged)")
    return data


def load_private_key(path: Path) -> PrivateKey:
    """Load a .key file, checking that its public half matches its secret."""
    data = _read_key_json(path, "private")
    key = PrivateKey(data["suite"], data["key_id"], data["public_key"], data.get("owner", ""), data["private_key"])
    if _public_of_secret(key.suite, key.secret) != key.public:
        raise KeyFileError(f"{path}: the public key does not belong to the private key (damaged key file)")
    mode = Path(path).stat().st_mode & 0o077
    if mode:
        raise KeyFileError(f"{path}: readable by group or others (mode {oct(Path(path).stat().st_mode & 0o777)}); "
                        f"run `chmod 600 {path}`")
    return key


def _public_of_secret(suite: str, secret: str) -> str:
    if suite == "ed25519-sha256":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    return sm2_public_from_private(secret)


def load_public_key(path: Path) -> PublicKey:
    """Load a .pub file."""
    data = _read_key_json(path, "public")
    if data["suite"] == "sm2-sm3" and not sm2_on_curve(data["public_key"]):
        raise KeyFileError(f"{path}: the SM2 public key is not a point of the curve")
    return PublicKey(data["suite"], data["key_id"], data["public_key"], data.get("owner", ""), str(path))


def keys_dir(workspace: Path) -> Path:
    """Return the workspace's key directory (`<workspace>/keys`)."""
    return Path(workspace) / "keys"


def default_signing_key_path(workspace: Path) -> Path:
    """Return the signing key a publisher uses: $YULIAO_SIGNING_KEY, else `<workspace>/keys/publisher.key`."""
    env = os.environ.get(SIGNING_KEY_ENV)
    return Path(env) if env else keys_dir(workspace) / f"{DEFAULT_KEY_NAME}.key"


def trusted_key_sources(workspace: Path | None, extra: list[Path] | None = None) -> list[Path]:
    """Return where trusted public keys are looked for, in order."""
    out = list(extra or [])
    out += [Path(p) for p in os.environ.get(TRUSTED_KEYS_ENV, "").split(os.pathsep) if p]
    if workspace is not None:
        out.append(keys_dir(workspace) / "trusted")
    return out


def load_trusted_keys(sources: list[Path]) -> dict[str, PublicKey]:
    """Return key id -> public key for every .pub file named by or inside `sources`."""
    keys: dict[str, PublicKey] = {}
    for src in sources:
        files = sorted(src.glob("*.pub")) if src.is_dir() else [src] if src.is_file() else []
        for f in files:
            k = load_public_key(f)
            keys.setdefault(k.key_id, k)
    return keys


# ---------------------------------------------------------------- sign and verify a manifest


def sign_bytes(key: PrivateKey, message: bytes) -> str:
    """Return the hex signature of `message` under `key`'s suite."""
    if key.suite == "ed25519-sha256":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key.secret)).sign(message).hex()
    return sm2_sign_digest(key.secret, sm2_message_digest(key.public, message))


def verify_bytes(key: PublicKey, message: bytes, signature_hex: str) -> bool:
    """Return True when `signature_hex` is `key`'s signature of `message`."""
    if key.suite == "ed25519-sha256":
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key.public)).verify(bytes.fromhex(signature_hex), message)
            return True
        except (InvalidSignature, ValueError):
            return False
    return sm2_verify_digest(key.public, signature_hex, sm2_message_digest(key.public, message))


def manifest_digests(manifest_bytes: bytes, suite: str) -> dict[str, str]:
    """Return the manifest's digests a signature file records (sha256 always, sm3 for sm2-sm3)."""
    out = {"sha256": hashlib.sha256(manifest_bytes).hexdigest()}
    if suite == "sm2-sm3":
        out["sm3"] = sm3_digest(manifest_bytes).hex()
    return out


def signature_record(key: PrivateKey, manifest_bytes: bytes, signed_file: str = "manifest.json") -> dict:
    """Return the signature file's content for a manifest signed with `key`."""
    return {"format": SIGNATURE_FORMAT, "suite": key.suite, "key_id": key.key_id, "signer": key.owner,
            "public_key": key.public, "signed_file": signed_file,
            "digests": manifest_digests(manifest_bytes, key.suite),
            "signed_at": datetime.now(timezone.utc).isoformat(),
            "signature": sign_bytes(key, manifest_bytes)}


def check_signature(release_dir: Path, trusted: dict[str, PublicKey], manifest_name: str = "manifest.json") -> dict:
    """Return the signature record of a release when a trusted key signed its manifest; raise SignatureError otherwise."""
    sig_path = Path(release_dir) / SIGNATURE
    if not sig_path.is_file():
        raise SignatureError(f"{release_dir}: unsigned (no {SIGNATURE}); only signed releases are accepted")
    try:
        record = json.loads(sig_path.read_text(encoding="utf-8"))
        suite, key_id, signature = record["suite"], record["key_id"], record["signature"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SignatureError(f"{sig_path}: damaged signature file ({type(exc).__name__})") from None
    if record.get("format") != SIGNATURE_FORMAT or suite not in SUITES:
        raise SignatureError(f"{sig_path}: unknown signature format or suite ({record.get('format')!r}, {suite!r})")
    key = trusted.get(key_id)
    if key is None:
        known = ", ".join(sorted(trusted)) or "none"
        raise SignatureError(f"{release_dir}: signed by key {key_id} ({record.get('signer') or 'unknown signer'}), "
                             f"which is not trusted here (trusted: {known}); add its .pub with `yuliao keys trust`")
    if key.suite != suite:
        raise SignatureError(f"{sig_path}: suite {suite} does not match the trusted key {key_id} ({key.suite})")
    manifest_bytes = (Path(release_dir) / manifest_name).read_bytes()
    if not verify_bytes(key, manifest_bytes, str(signature)):
        raise SignatureError(f"{release_dir}: the signature of {manifest_name} does not verify with trusted key "
                             f"{key_id}: the manifest was changed after signing (or the signature was forged)")
    return record
