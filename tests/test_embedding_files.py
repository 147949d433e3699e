"""load_embedding_arrays: the authors' embedding files, and ``skreward run --data`` on them."""

import json

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skreward.datasets import load_embedding_arrays

P, R, D = 5, 3, 4  # prompts, responses per prompt, features


@pytest.fixture
def arrays():
    """Embeddings (P, R, D) whose first feature encodes (prompt, response); rewards (P, R)."""
    rng = np.random.default_rng(0)
    E = rng.normal(size=(P, R, D)).astype(np.float32)
    E[:, :, 0] = 10 * np.arange(P)[:, None] + np.arange(R)[None, :]
    return E, rng.normal(size=(P, R))


def _items(data):
    """(prompt, response) -> (embedding, reward), whatever the order of the items."""
    return {(int(g), int(r)): (tuple(x), y) for x, y, g, r in
            zip(data.X, data.golden, data.groups, data.response)}


def test_prompts_first_npy_files_are_memory_mapped_items(tmp_path, arrays):
    E, Y = arrays
    np.save(tmp_path / "emb.npy", E)
    np.save(tmp_path / "rew.npy", Y)
    data = load_embedding_arrays(tmp_path / "emb.npy", str(tmp_path / "rew.npy"))
    assert isinstance(data.X, np.memmap) and data.X.dtype == np.float32
    np.testing.assert_array_equal(data.X, E.reshape(P * R, D))
    np.testing.assert_array_equal(data.golden, Y.ravel())
    np.testing.assert_array_equal(data.groups, np.repeat(np.arange(P), R))
    np.testing.assert_array_equal(data.response, np.tile(np.arange(R), P))
    np.testing.assert_array_equal(data.X[:, 0], 10 * data.groups + data.response)
    in_memory = load_embedding_arrays(tmp_path / "emb.npy", tmp_path / "rew.npy", mmap_mode=None)
    assert not isinstance(in_memory.X, np.memmap)
    np.testing.assert_array_equal(in_memory.X, data.X)


def test_responses_first_files_give_the_same_items(tmp_path, arrays):
    E, Y = arrays
    expected = _items(load_embedding_arrays(E, Y))
    np.save(tmp_path / "emb_rf.npy", E.transpose(1, 0, 2))
    for rewards in (Y.T, Y.T[:, :, None], Y, Y[:, :, None]):  # either order, (..., 1) too
        np.save(tmp_path / "rew.npy", rewards)
        data = load_embedding_arrays(tmp_path / "emb_rf.npy", tmp_path / "rew.npy",
                                     layout="responses_first")
        assert isinstance(data.X, np.memmap)  # items in the file's order: still a view
        assert _items(data) == expected
        np.testing.assert_array_equal(data.X[:, 0], 10 * data.groups + data.response)


def test_npz_keys(tmp_path, arrays):
    E, Y = arrays
    expected = _items(load_embedding_arrays(E, Y))
    np.savez(tmp_path / "both.npz", embeddings=E, rewards=Y, other=np.zeros(2))
    data = load_embedding_arrays(tmp_path / "both.npz", tmp_path / "both.npz")
    assert isinstance(data.X, np.memmap) and _items(data) == expected  # uncompressed: mapped
    np.savez(tmp_path / "named.npz", h=E, scores=Y[:, :, None])
    data = load_embedding_arrays(tmp_path / "named.npz", tmp_path / "named.npz",
                                 embeddings_key="h", rewards_key="scores")
    assert _items(data) == expected
    np.savez_compressed(tmp_path / "emb.npz", E)  # one array: no key needed; read into memory
    np.savez_compressed(tmp_path / "rew.npz", Y)
    data = load_embedding_arrays(tmp_path / "emb.npz", tmp_path / "rew.npz")
    assert not isinstance(data.X, np.memmap) and _items(data) == expected
    with pytest.raises(ValueError, match=r"embeddings \(named.npz\) holds no array 'embeddings'; "
                                         r"it holds \['h', 'scores'\].*embeddings_key="):
        load_embedding_arrays(tmp_path / "named.npz", tmp_path / "named.npz")


def test_test_split_continues_the_prompt_ids(tmp_path, arrays):
    E, Y = arrays
    rng = np.random.default_rng(1)
    E_test, Y_test = rng.normal(size=(7, 2, D)), rng.normal(size=(2, 7))  # authors' test order
    np.save(tmp_path / "test_emb.npy", E_test)
    np.save(tmp_path / "test_rew.npy", Y_test)
    data = load_embedding_arrays(E, Y, test_embeddings=tmp_path / "test_emb.npy",
                                 test_rewards=tmp_path / "test_rew.npy")
    assert data.X_test.shape == (14, D)
    np.testing.assert_array_equal(data.groups_test, np.repeat(np.arange(P, P + 7), 2))
    np.testing.assert_array_equal(data.golden_test, Y_test.T.ravel())
    with pytest.raises(ValueError, match="test_embeddings have 3 features but embeddings have 4"):
        load_embedding_arrays(E, Y, test_embeddings=E_test[:, :, :3], test_rewards=Y_test)
    with pytest.raises(ValueError, match="pass both or neither"):
        load_embedding_arrays(E, Y, test_embeddings=E_test)


def test_shapes_that_disagree_are_named_with_their_files(tmp_path, arrays):
    E, Y = arrays
    np.save(tmp_path / "train_emb.npy", E)
    np.save(tmp_path / "train_rew.npy", Y[:, :2])
    with pytest.raises(ValueError, match=r"The shapes disagree: rewards \(train_rew.npy\) has "
                                         r"shape \(5, 2\) but embeddings \(train_emb.npy\) has "
                                         r"shape \(5, 3, 4\); the rewards must have shape "
                                         r"\(5, 3\) or \(3, 5\)"):
        load_embedding_arrays(tmp_path / "train_emb.npy", tmp_path / "train_rew.npy")
    np.save(tmp_path / "flat.npy", E.reshape(P * R, D))
    with pytest.raises(ValueError, match=r"embeddings \(flat.npy\) must have shape \(n_prompts, "
                                         r"n_responses, n_features\).*got shape \(15, 4\)"):
        load_embedding_arrays(tmp_path / "flat.npy", Y)
    with pytest.raises(ValueError, match=r"rewards \(an array\) must have shape \(n_prompts, "
                                         r"n_responses\).*got shape \(5, 3, 2\)"):
        load_embedding_arrays(E, np.stack([Y, Y], axis=2))
    with pytest.raises(ValueError, match=r"with layout='prompts_first' and rewards_layout="
                                         r"'responses_first', rewards \(an array\) of shape "
                                         r"\(5, 3\) does not match"):
        load_embedding_arrays(E, Y, rewards_layout="responses_first")


def test_square_arrays_need_the_rewards_layout(arrays):
    E = arrays[0][:3]  # 3 prompts x 3 responses: either order of the rewards matches
    Y = np.arange(9.0).reshape(3, 3)
    with pytest.raises(ValueError, match=r"axis order of rewards \(an array\) \(shape \(3, 3\)\) "
                                         r"is ambiguous.*rewards_layout="):
        load_embedding_arrays(E, Y)
    same = load_embedding_arrays(E, Y, rewards_layout="prompts_first")
    swapped = load_embedding_arrays(E, Y, rewards_layout="responses_first")
    np.testing.assert_array_equal(same.golden, Y.ravel())
    np.testing.assert_array_equal(swapped.golden, Y.T.ravel())


def test_other_bad_input(tmp_path, arrays):
    E, Y = arrays
    with pytest.raises(ValueError, match="is not a file"):
        load_embedding_arrays(tmp_path / "missing.npy", Y)
    (tmp_path / "emb.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"must be a \.npy or \.npz file; got 'emb.csv'"):
        load_embedding_arrays(tmp_path / "emb.csv", Y)
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=r"embeddings \(broken.npy\) is not a readable \.npy"):
        load_embedding_arrays(tmp_path / "broken.npy", Y)
    bad = Y.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"rewards \(an array\).*NaN"):
        load_embedding_arrays(E, bad)
    with pytest.raises(InvalidParameterError, match="layout"):
        load_embedding_arrays(E, Y, layout="auto")


def test_run_command_reads_embedding_files(tmp_path, capsys):
    """``skreward run --data EMB REW TEST_EMB TEST_REW --layout responses_first``."""
    from skreward.experiments._cli import main

    rng = np.random.default_rng(0)
    w = rng.normal(size=8)
    E, E_test = rng.normal(size=(10, 60, 8)), rng.normal(size=(16, 6, 8))  # responses first
    np.save(tmp_path / "emb.npy", E)
    np.save(tmp_path / "rew.npy", (E @ w).T)  # prompts first, as the authors' test rewards
    np.save(tmp_path / "test_emb.npy", E_test)
    np.save(tmp_path / "test_rew.npy", (E_test @ w)[:, :, None])
    grid = {"grid": {"model": ["BT-linear"], "beta": [10.0], "n_pairs": [300],
                     "pairing": ["same_prompt"], "seed": [0]}}
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    paths = [str(tmp_path / name) for name in ("emb.npy", "rew.npy", "test_emb.npy",
                                               "test_rew.npy")]
    status = main(["run", str(tmp_path / "grid.json"), "--output", str(tmp_path / "out"),
                   "--no-progress", "--n-jobs", "1", "--data", *paths,
                   "--layout", "responses_first"])
    assert status == 0
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(rows) == 2
    header, row = rows[0].split(","), rows[1].split(",")
    assert int(row[header.index("n_eval")]) == 16
    assert float(row[header.index("oracle_fraction")]) > 0.5  # a linear golden reward
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path / "grid.json"), "--output", str(tmp_path / "out2"),
              "--data", *paths[:3]])
    assert "--data takes one file of items, or embedding files" in capsys.readouterr().err
