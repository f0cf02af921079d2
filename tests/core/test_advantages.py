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
