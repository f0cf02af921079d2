import pytest
import torch

from editrl.advantages import group_advantages, standardize_terms


def test_group_advantages_hand_computed():
    # rewards 1, 2, 3: mean 2, centred (−1, 0, 1), population std sqrt(2/3) = 0.816497;
    # A = centred / (0.816497 + 1e-4) = (−1.224590, 0, 1.224590).
    adv, dead = group_advantages(torch.tensor([[1.0, 2.0, 3.0]]))
    torch.testing.assert_close(adv, torch.tensor([[-1.224590, 0.0, 1.224590]]), atol=1e-5, rtol=0)
    assert not dead.any()


def test_clip_and_dead_groups():
    # Group 0: (0, 0, 0, 1): mean 0.25, centred (−.25, −.25, −.25, .75), std sqrt(0.1875) = 0.433013 → the last is
    # 0.75 / 0.433113 = 1.7316; with clip 1.5 it becomes 1.5. Group 1 is constant → dead, zero advantages.
    adv, dead = group_advantages(torch.tensor([[0.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]]), clip=1.5)
    assert adv[0, 3] == 1.5
    torch.testing.assert_close(adv[0, 0], torch.tensor(-0.25 / 0.433113), atol=1e-5, rtol=0)
    assert dead.tolist() == [False, True] and (adv[1] == 0).all()


def test_batch_std_scope():
    # Two groups (0, 2) and (10, 14). Batch mean 6.5; squared deviations 42.25 + 20.25 + 12.25 + 56.25 = 131;
    # population std sqrt(131 / 4) = 5.722762. Group means 1 and 12 → centred (−1, 1), (−2, 2) → / 5.722862.
    adv, _ = group_advantages(torch.tensor([[0.0, 2.0], [10.0, 14.0]]), std_scope="batch")
    torch.testing.assert_close(adv, torch.tensor([[-1.0, 1.0], [-2.0, 2.0]]) / 5.722862, atol=1e-5, rtol=0)


def test_standardize_terms_per_row():
    # Row (1, 3): mean 2, std 1 → (−1, 1). A constant row becomes zeros.
    z = standardize_terms(torch.tensor([[1.0, 3.0], [5.0, 5.0]]))
    torch.testing.assert_close(z, torch.tensor([[-1.0, 1.0], [0.0, 0.0]]), atol=1e-6, rtol=0)


def test_invalid_rows_are_left_out_of_their_group():
    nan = float("nan")
    rewards = torch.tensor([[1.0, nan, 3.0, 2.0], [5.0, nan, nan, 1.0], [7.0, nan, nan, nan], [nan] * 4])
    adv, dead = group_advantages(rewards)
    # Group 0, valid (1, 3, 2): mean 2, centred (−1, 1, 0), std sqrt(2/3) = 0.816497 → ±1/0.816597 = ±1.224590.
    torch.testing.assert_close(adv[0], torch.tensor([-1.224590, 0.0, 1.224590, 0.0]), atol=1e-5, rtol=0)
    # Group 1, valid (5, 1): mean 3, centred (2, −2), std 2 → ±2 / 2.0001 = ±0.999950.
    torch.testing.assert_close(adv[1], torch.tensor([0.999950, 0.0, 0.0, -0.999950]), atol=1e-6, rtol=0)
    # Groups 2 and 3 have fewer than two valid rows: dead, zero advantages.
    assert dead.tolist() == [False, False, True, True] and (adv[2:] == 0).all()


def test_batch_std_over_valid_rows():
    # Valid rows 0, 2 | 10, 14 (NaNs left out): batch std sqrt(131/4) = 5.722762 as in test_batch_std_scope.
    nan = float("nan")
    adv, _ = group_advantages(torch.tensor([[0.0, nan, 2.0], [10.0, 14.0, nan]]), std_scope="batch")
    expected = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 2.0, 0.0]]) / 5.722862
    torch.testing.assert_close(adv, expected, atol=1e-5, rtol=0)


def test_standardize_terms_over_valid_columns():
    # Valid columns (1, 3): mean 2, std 1 → (−1, 1); the invalid column comes out NaN whatever its value.
    z = standardize_terms(torch.tensor([[1.0, 3.0, 100.0]]), valid=torch.tensor([True, True, False]))
    torch.testing.assert_close(z[0, :2], torch.tensor([-1.0, 1.0]), atol=1e-6, rtol=0)
    assert torch.isnan(z[0, 2])


def test_reward_output_validity_logs_and_joins():
    from editrl.interfaces import RewardOutput

    nan = float("nan")
    a = RewardOutput(values=torch.tensor([1.0, nan]), valid=torch.tensor([True, False]), reasons=[None, "timeout"],
                     counters={"retried/timeout": 2.0})  # fmt: skip
    b = RewardOutput(values=torch.tensor([3.0, nan]), valid=torch.tensor([True, False]), reasons=[None, "no_label"])
    joined = RewardOutput.concat([a, b, RewardOutput(values=torch.tensor([5.0]))])
    assert joined.valid.tolist() == [True, False, True, False, True]
    assert joined.invalid_counts() == {"timeout": 1, "no_label": 1}
    logged = joined.log("reward/judge")
    # mean over the valid rows 1, 3, 5 = 3; the NaNs never reach it
    assert logged["reward/judge/mean"] == 3.0 and logged["reward/judge/invalid_rows"] == 2
    assert logged["reward/judge/invalid/timeout"] == 1 and logged["reward/judge/retried/timeout"] == 2


def test_combine_leaves_invalid_rows_out():
    from editrl.engine.scoring import combine, reward_metrics
    from editrl.interfaces import RewardOutput

    class Term:
        weight = 1.0

    nan = float("nan")
    judge = RewardOutput(values=torch.tensor([1.0, 3.0, nan, 5.0]), valid=torch.tensor([True, True, False, True]),
                         reasons=[None, None, "unreachable", None])  # fmt: skip
    local = RewardOutput(values=torch.tensor([0.0, 0.0, 9.0, 0.0]))
    scores = combine([Term(), Term()], [judge, local], N=2, G=2)
    # Judge over rows 0, 1, 3: mean 3, std sqrt(8/3) = 1.632993 → (−1.224745, 0, ·, 1.224745); the local term is 0
    # on the valid rows (constant) → 0. Row 2 is invalid in the total.
    assert scores.valid.tolist() == [[True, True], [False, True]] and scores.finite
    torch.testing.assert_close(scores.total[0], torch.tensor([-1.224745, 0.0]), atol=1e-5, rtol=0)
    assert torch.isnan(scores.total[1, 0]) and scores.total[1, 1] == pytest.approx(1.224745, abs=1e-5)
    metrics = reward_metrics(["judge", "local"], scores, 2)
    assert metrics["reward/judge/invalid/unreachable"] == 1 and metrics["reward/invalid_rows"] == 1
    assert metrics["reward/judge/mean"] == 3.0
