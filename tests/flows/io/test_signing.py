"""Signature suites against published test vectors, key files, and the audit chain (no services)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flows.io.audit import append_event, chain_problems, read_entries
from flows.io.signing import (KeyFileError, SignatureError, check_signature, load_private_key, load_public_key, new_private_key,
                           signature_record, sign_bytes, sm2_message_digest, sm2_public_from_private, sm2_sign_digest,
                           sm2_verify_digest, sm3_digest, verify_bytes, write_key_pair)

# RFC 8032 section 7.1, tests 1 and 2.
ED25519_VECTORS = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
]

# GB/T 32918.2-2016 appendix A (recommended curve): key pair, message, nonce, e and (r, s).
SM2_PRIVATE = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
SM2_PUBLIC = ("09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
              "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13")
SM2_NONCE = "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21"
SM2_E = "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640"
SM2_SIG = ("f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
           "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa")


@pytest.mark.parametrize("secret,public,message,signature", ED25519_VECTORS)
def test_ed25519_matches_rfc8032(secret, public, message, signature):
    from flows.io.signing import PrivateKey, PublicKey

    key = PrivateKey("ed25519-sha256", "x", public, "rfc", secret)
    assert sign_bytes(key, bytes.fromhex(message)) == signature
    pub = PublicKey("ed25519-sha256", "x", public, "rfc")
    assert verify_bytes(pub, bytes.fromhex(message), signature)
    assert not verify_bytes(pub, bytes.fromhex(message) + b"!", signature)


def test_sm3_matches_gbt32905_examples():
    assert sm3_digest(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3_digest(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    from gmssl import func, sm3  # the SM2 library's own SM3 agrees with OpenSSL's

    assert sm3.sm3_hash(func.bytes_to_list(b"abc")) == sm3_digest(b"abc").hex()


def test_sm2_matches_gbt32918_example():
    assert sm2_public_from_private(SM2_PRIVATE) == SM2_PUBLIC
    e = sm2_message_digest(SM2_PUBLIC, b"message digest")
    assert e.hex() == SM2_E
    assert sm2_sign_digest(SM2_PRIVATE, e, SM2_NONCE) == SM2_SIG
    assert sm2_verify_digest(SM2_PUBLIC, SM2_SIG, e)
    assert not sm2_verify_digest(SM2_PUBLIC, SM2_SIG, sm2_message_digest(SM2_PUBLIC, b"message digesT"))
    n = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
    r, s = int(SM2_SIG[:64], 16), int(SM2_SIG[64:], 16)
    assert not sm2_verify_digest(SM2_PUBLIC, f"{r:064x}{n:064x}", e)  # s out of [1, n-1] (step B2)
    assert not sm2_verify_digest(SM2_PUBLIC, f"{0:064x}{s:064x}", e)  # r out of [1, n-1] (step B1)


def test_sm2_public_key_starting_with_04_verifies():
    # d = 11 gives x = 04b3...; gmssl's constructor strips leading "04" and then fails on 1 key in 256
    private = f"{11:064x}"
    public = sm2_public_from_private(private)
    assert public.startswith("04")
    e = sm2_message_digest(public, "清单 manifest".encode())
    signature = sm2_sign_digest(private, e)
    assert sm2_verify_digest(public, signature, e)
    assert not sm2_verify_digest(public, signature, sm2_message_digest(public, b"other"))


@pytest.mark.parametrize("suite", ["ed25519", "sm2"])
def test_key_files_round_trip_and_keep_the_secret_out_of_repr(tmp_path: Path, suite: str):
    key = new_private_key(suite, "operator")
    priv, pub = write_key_pair(key, tmp_path, "publisher")
    assert priv.stat().st_mode & 0o777 == 0o600
    loaded = load_private_key(priv)
    assert loaded == key and key.secret not in repr(loaded)
    assert load_public_key(pub).key_id == key.key_id
    message = "清单 manifest".encode()
    assert verify_bytes(load_public_key(pub), message, sign_bytes(loaded, message))
    with pytest.raises(KeyFileError, match="already exists"):
        write_key_pair(key, tmp_path, "publisher")
    os.chmod(priv, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_private_key(priv)


def test_damaged_public_key_file_is_refused(tmp_path: Path):
    key = new_private_key("sm2", "x")
    _, pub = write_key_pair(key, tmp_path, "k")
    data = json.loads(pub.read_text())
    data["public_key"] = data["public_key"][:-1] + ("0" if data["public_key"][-1] != "0" else "1")
    pub.write_text(json.dumps(data))
    with pytest.raises(KeyFileError, match="key id does not match"):
        load_public_key(pub)


@pytest.mark.parametrize("suite", ["ed25519", "sm2"])
def test_check_signature_refuses_unsigned_untrusted_and_edited(tmp_path: Path, suite: str):
    key = new_private_key(suite, "publisher")
    other = new_private_key(suite, "someone-else")
    (tmp_path / "manifest.json").write_bytes(b'{"rows": 3}\n')
    trusted = {key.key_id: key.public_key()}
    with pytest.raises(SignatureError, match="unsigned"):
        check_signature(tmp_path, trusted)
    (tmp_path / "manifest.sig").write_text(json.dumps(signature_record(key, b'{"rows": 3}\n')))
    assert check_signature(tmp_path, trusted)["key_id"] == key.key_id
    (tmp_path / "manifest.json").write_bytes(b'{"rows": 4}\n')
    with pytest.raises(SignatureError, match="does not verify"):
        check_signature(tmp_path, trusted)
    (tmp_path / "manifest.sig").write_text(json.dumps(signature_record(other, b'{"rows": 4}\n')))
    with pytest.raises(SignatureError, match="not trusted"):
        check_signature(tmp_path, trusted)


def test_audit_chain_names_the_broken_link(tmp_path: Path):
    actor = {"user": "u", "host": "h", "team": "asr"}
    for i in range(4):
        append_event(tmp_path, "pull", actor=actor, ref=f"demo@v{i + 1}", digest="d" * 64, level="internal")
    entries = read_entries(tmp_path)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4] and chain_problems(entries) == []
    edited = [dict(e) for e in entries]
    edited[1]["actor"] = {"user": "someone-else", "host": "h", "team": "asr"}
    problems = chain_problems(edited)
    assert problems and problems[0].line == 2 and "edited" in problems[0].problem
    removed = entries[:2] + entries[3:]
    assert any(p.line == 3 and "prev" in p.problem for p in chain_problems(removed))
    # A consistent rewrite of the whole log is caught by a signed anchor that names an old head.
    rewritten = entries[:2]
    anchor = ("demo@v3", {"seq": 3, "hash": entries[2]["hash"]})
    assert any("log rewritten" in p.problem for p in chain_problems(rewritten, [anchor]))
    assert chain_problems(entries, [anchor]) == []
