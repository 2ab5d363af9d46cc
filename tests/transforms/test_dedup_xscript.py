"""Cross-script near-duplicates (issue 18): regional vocabulary folding and the cross-script stage, on inline data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.transforms import dedup_reference as ref_impl
from transforms import dedup as d
from transforms.ops import OpStats
from transforms.schema import CLUSTER_ID, DROP_REASON, DUPLICATE_OF, docs_from_pylist

ROOT = Path(__file__).resolve().parents[2]

# The same help text localised for the mainland (zh-CN) and for Taiwan (zh-TW): not a character
# conversion but regional vocabulary (软件/軟體, 默认/預設, 文件/檔案, 信息/資訊, 程序/程式, 用户/使用者).
CN_INSTALL = (
    "安装软件之前，请先阅读默认配置文件 /etc/apt/sources.list 中的信息。运行 apt-get update 可以更新软件包列表，"
    "然后用 apt-get install hello 安装 2.10 版本的程序。\n如果程序无法启动，请检查用户的主目录权限，"
    "并查看日志文件 /var/log/syslog 中的错误信息。默认情况下，系统每天 06:25 运行一次清理程序。"
)
TW_INSTALL = (
    "安裝軟體之前，請先閱讀預設設定檔案 /etc/apt/sources.list 中的資訊。執行 apt-get update 可以更新套件清單，"
    "然後用 apt-get install hello 安裝 2.10 版本的程式。\n如果程式無法啟動，請檢查使用者的主目錄權限，"
    "並查看記錄檔案 /var/log/syslog 中的錯誤資訊。預設情況下，系統每天 06:25 執行一次清理程式。"
)
CN_NETWORK = (
    "网络接口的默认设置保存在文件 /etc/network/interfaces 中。修改以后，运行 systemctl restart networking "
    "让新的设置生效。\n如果服务器有两块网卡，可以为 eth0 和 eth1 分别设置 IP 地址 192.168.1.10 和 10.0.0.2，"
    "并在防火墙软件中打开 22 号端口，这样用户才能远程登录。"
)
TW_NETWORK = (
    "網路介面的預設設定儲存在檔案 /etc/network/interfaces 中。修改以後，執行 systemctl restart networking "
    "讓新的設定生效。\n如果伺服器有兩塊網路卡，可以為 eth0 和 eth1 分別設定 IP 位址 192.168.1.10 和 10.0.0.2，"
    "並在防火牆軟體中開啟 22 號埠，這樣使用者才能遠端登入。"
)
# A sibling page of the same manual and template: other commands, paths and numbers, no counterpart.
TW_SIBLING = (
    "安裝套件之前，請先閱讀預設設定檔案 /etc/dnf/dnf.conf 中的資訊。執行 dnf makecache 可以更新套件清單，"
    "然後用 dnf install cowsay 安裝 3.04 版本的程式。\n如果程式無法啟動，請檢查群組的目錄權限，"
    "並查看記錄檔案 /var/log/messages 中的警告資訊。每週一 03:00 系統會執行一次備份程式。"
)
UNRELATED_CN = "床前明月光，疑是地上霜。举头望明月，低头思故乡。这首诗写的是游子在秋夜里思念家乡的心情，语言朴素，流传很广。"


def docs(texts: list[str]) -> pa.Table:
    return docs_from_pylist([{"id": f"d{i}", "text": t, "source": "t", "source_uri": f"t:{i}", "raw_sha256": "0"}
                             for i, t in enumerate(texts)])


def run(op: d.DedupNear, texts: list[str]) -> list[dict]:
    table = docs(texts)
    return op.apply_corpus(table, op.reduce(op.signatures(table, 0)), OpStats()).to_pylist()


def jaccard(a: str, b: str, script: str) -> float:
    h, o, _ = d.shingle_hashes([a, b], 5, 5, script)
    sa, sb = set(h[o[0] : o[1]].tolist()), set(h[o[1] : o[2]].tolist())
    return len(sa & sb) / len(sa | sb)


@pytest.mark.parametrize("first,second", [(CN_INSTALL, TW_INSTALL), (TW_INSTALL, CN_INSTALL), (CN_NETWORK, TW_NETWORK), (TW_NETWORK, CN_NETWORK)],
                         ids=["install zh-CN->zh-TW", "install zh-TW->zh-CN", "network zh-CN->zh-TW", "network zh-TW->zh-CN"])
def test_a_localised_copy_is_a_near_duplicate_by_default_in_both_directions(first, second):
    rows = run(d.DedupNear(), [first, UNRELATED_CN, second, TW_SIBLING])
    assert rows[2][DROP_REASON] == "near_duplicate" and rows[2][DUPLICATE_OF] == "d0"
    assert rows[0][DROP_REASON] is None and rows[0][CLUSTER_ID] == "d0"
    assert rows[1][CLUSTER_ID] is None and rows[3][CLUSTER_ID] is None  # unrelated text and the sibling page stay


@pytest.mark.parametrize("first,second", [(CN_INSTALL, TW_INSTALL), (TW_NETWORK, CN_NETWORK)])
def test_character_conversion_alone_misses_localised_copies(first, second):
    """What dedup_near@1 offered: t2s leaves regional vocabulary apart, so the pair stays below the threshold."""
    assert jaccard(first, second, "t2s") < 0.7
    rows = run(d.DedupNear(script="t2s", cross_script_threshold=None), [first, second])
    assert rows[1][DROP_REASON] is None


def test_folding_brings_regional_vocabulary_to_one_key_in_both_directions():
    cn, tw = "软件默认文件信息程序用户账户设置", "軟體預設檔案資訊程式使用者帳號設定"
    assert d.convert_script_text(cn, "fold") == d.convert_script_text(tw, "fold")
    assert d.convert_script_text(tw, "tw2sp") != d.convert_script_text(cn, "tw2sp")  # OpenCC alone: 文件 -> 文档, 程序 -> 进程
    assert jaccard(CN_INSTALL, TW_INSTALL, "fold") > jaccard(CN_INSTALL, TW_INSTALL, "tw2sp") > jaccard(CN_INSTALL, TW_INSTALL, "t2s")


def test_the_cross_script_stage_catches_pairs_folding_leaves_below_the_threshold():
    # Reworded in one region (as human-edited translations are): folded Jaccard well under 0.7.
    tw_edited = TW_INSTALL.replace("請先閱讀", "務必先看過").replace("可以更新套件清單", "會把套件清單更新到最新").replace(
        "如果程式無法啟動", "要是程式啟動失敗").replace("並查看記錄檔案", "再去看記錄檔案")
    assert 0.3 <= jaccard(CN_INSTALL, tw_edited, "fold") < 0.7
    rows = run(d.DedupNear(), [CN_INSTALL, TW_SIBLING, tw_edited])
    assert rows[2][DUPLICATE_OF] == "d0"
    assert rows[1][CLUSTER_ID] is None
    off = run(d.DedupNear(cross_script_threshold=None), [CN_INSTALL, TW_SIBLING, tw_edited])
    assert off[2][DROP_REASON] is None


def test_the_cross_script_stage_does_not_merge_two_texts_of_one_script():
    cn_edited = CN_INSTALL.replace("请先阅读", "务必先看过").replace("可以更新软件包列表", "会把软件包列表更新到最新").replace(
        "如果程序无法启动", "要是程序启动失败").replace("并查看日志文件", "再去看日志文件")
    assert 0.3 <= jaccard(CN_INSTALL, cn_edited, "fold") < 0.7
    rows = run(d.DedupNear(), [CN_INSTALL, cn_edited])
    assert rows[1][CLUSTER_ID] is None  # same script: only the main threshold applies, as before


def test_cross_script_pairs_need_the_same_commands_and_numbers():
    """A zh-TW page of the same template with other commands, paths and numbers is rejected by the Latin-token check."""
    sig = d.DedupNear().signatures(docs([CN_INSTALL, TW_SIBLING, TW_INSTALL]), 0)
    pairs = np.array([[0, 1], [0, 2]])
    loose = d.CrossScript(threshold=0.05, latin=0.0, length_ratio=0.0)
    strict = d.CrossScript(threshold=0.05, latin=0.5, length_ratio=0.0)
    assert d.cross_verified_mask(sig, pairs[:1], loose).tolist() == [True]
    assert d.cross_verified_mask(sig, pairs[:1], strict).tolist() == [False]
    assert d.cross_verified_mask(sig, pairs[1:], strict).tolist() == [True]


def test_mutual_best_keeps_one_counterpart_per_document():
    pairs = np.array([[0, 2], [0, 3], [1, 3]])
    score = np.array([0.5, 0.6, 0.9])
    # 0's best is 3, but 3's best is 1: only (1, 3) is reciprocal.
    assert d.mutual_best(pairs, score, 4).tolist() == [False, False, True]
    assert d.mutual_best(pairs, np.array([0.5, -1.0, 0.9]), 4).tolist() == [True, False, True]


def test_han_script_classes():
    got = d.han_script_classes([CN_INSTALL, TW_INSTALL, "hello world", "床前明月光", ""])
    assert got.tolist() == [d.HAN_SIMPLIFIED, d.HAN_TRADITIONAL, d.HAN_OTHER, d.HAN_OTHER, d.HAN_OTHER]


def test_compiled_shingling_matches_the_reference_with_folding():
    texts = [CN_INSTALL, TW_INSTALL, TW_SIBLING, "Ｆｕｌｌ－ｗｉｄｔｈ 軟體…", ""]
    a = d.shingle_hashes(texts, 5, 5, "fold")
    b = ref_impl.shingle_hashes_reference(texts, 5, 5, "fold")
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_stored_signatures_without_cross_script_bands_are_refused(tmp_path):
    from flows.dedup import check_op_spec, save_op_spec

    save_op_spec(tmp_path, d.DedupNear(cross_script_threshold=None))
    with pytest.raises(ValueError, match="cross_bands_rows"):
        check_op_spec(tmp_path, d.DedupNear())
    check_op_spec(tmp_path, d.DedupNear(cross_script_threshold=None))


HELDOUT = ROOT / ".yuliao" / "xscript-zh" / "heldout.jsonl"


@pytest.mark.skipif(not HELDOUT.exists(), reason=f"{HELDOUT} absent: run `bench/bench_dedup_xscript.py build` (downloads Debian packages)")
def test_heldout_debian_reference_pairs_reach_f1_095_with_defaults():
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_dedup_xscript import clusters_in_process, score

    rows = [json.loads(line) for line in HELDOUT.read_text("utf-8").splitlines()]
    s = score(rows, clusters_in_process(rows, {}))
    assert s["f1"] >= 0.95 and s["precision"] >= 0.95, s


def test_compiled_phrase_folding_matches_the_regex_reference():
    texts = [CN_INSTALL, TW_INSTALL, TW_SIBLING, "埠", "", "软件包文档程式进程埠口", "hello world", UNRELATED_CN]
    cps = np.frombuffer("\ue000".join(texts).encode("utf-32-le"), np.uint32)
    assert np.array_equal(d.fold_codepoints(cps, len(texts)), ref_impl.fold_codepoints_reference(cps, len(texts)))
    assert d.fold_script_texts(["软件包文档 埠"]) == ["套件文件 端口"]


def test_a_mostly_simplified_text_has_its_few_traditional_characters_converted_without_opencc():
    # 後 alone in Simplified text: converted character by character to 后, like the Traditional copy through tw2sp.
    assert d.fold_script_texts(["这是简体中文，之後再说", "這是簡體中文，之後再說"]) == ["这是简体中文，之后再说"] * 2


PHRASE_ALPHABET = "".join(sorted({c for k in d.REGIONAL_FOLDS for c in k} | {"a", " ", "中", "\ue000"}))


# Whole keys, their prefixes and loose characters: overlapping keys (指令/指令稿, 相依/相依性) meet often.
PHRASE_PIECES = st.one_of(st.sampled_from(sorted(d.REGIONAL_FOLDS)), st.sampled_from(sorted(k[:-1] for k in d.REGIONAL_FOLDS if len(k) > 1)),
                          st.sampled_from(list(PHRASE_ALPHABET)))


@settings(max_examples=200, deadline=None)
@given(st.lists(PHRASE_PIECES, max_size=12).map("".join))
def test_compiled_phrase_table_equals_the_regex_on_any_mix_of_key_characters(text):
    cps = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    got = d._kernels().replace_phrases(cps, *d._regional_fold_arrays()).tobytes().decode("utf-32-le")
    assert got == ref_impl.fold_regional_vocabulary(text)
