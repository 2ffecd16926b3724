import numpy as np

from softfact.ops import OperationExamples
from softfact.plotting import plot_latent_operations
from softfact.plotting.ops import _EMPTIED, _STRAY


def _examples(emptied):
    H = W = 6
    original = np.zeros((1, H, W), bool)
    original[0, 2:4, 1:5] = True
    true = np.zeros((1, 1, H, W), bool)
    true[0, 0, 2:4, 3:6] = True                      # shifted right by 2: columns 0-1 emptied
    latent = true.copy()
    latent[0, 0, 2, 0] = True                        # a note decoded where the shift has none
    return OperationExamples(original=original, recon=original.copy(), true=true, latent=latent,
                             shifts=[(0, 2)], threshold=0.0, emptied=emptied)


def _strips(fig):
    return [np.asarray(ax.images[0].get_array()) for ax in fig.axes]


def test_the_border_a_shift_empties_is_tinted_and_a_note_drawn_there_flagged():
    emptied = np.zeros((1, 6, 6), bool)
    emptied[0, :, :2] = True
    true_strip, latent_strip = _strips(plot_latent_operations(_examples(emptied)))
    panel = slice(7, 13)                              # the shifted panel, after the original and a grey column
    for strip in (true_strip, latent_strip):
        assert strip.shape == (6, 13, 3)
        assert np.allclose(strip[:, :6], strip[:, :6, :1])         # the original / recon: grey levels only
        assert np.allclose(strip[:, 6], 0.5)                       # the separator
        assert np.allclose(strip[3, panel][:2], _EMPTIED)
    assert np.allclose(true_strip[2, panel][0], _EMPTIED)
    assert np.allclose(latent_strip[2, panel][0], _STRAY)          # the stray note, orange
    assert np.allclose(latent_strip[2, panel][3:], 1.0)            # notes outside the border: white
    assert np.allclose(latent_strip[0, panel][2:], 0.0)            # empty pixels outside it: black


def test_without_an_emptied_border_the_strips_are_grey():
    for emptied in (None, np.zeros((1, 6, 6), bool)):
        fig = plot_latent_operations(_examples(emptied))
        for strip in _strips(fig):
            assert np.allclose(strip, strip[..., :1])
        assert "blue" not in fig._suptitle.get_text()
