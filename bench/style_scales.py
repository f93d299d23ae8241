"""How W2_SCALE and SLICED_SCALE (style_losses.py) were chosen: each style loss's term against the Gram term.

For the sample pair at 512x384 px (chapter normalisation, default weights, the photo itself as the picture)
prints the style term of each style loss, and what the constants would be for each to equal the Gram term
there. Usage: python bench/style_scales.py [--size 512] [--content PATH --style PATH]
"""

from __future__ import annotations

import argparse
import tempfile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--content", default="inputs/tubingen.jpg")
    parser.add_argument("--style", default="inputs/starry_night.jpg")
    parser.add_argument("--normalization", default="chapter")
    args = parser.parse_args()
    from pyimagesearch.nn.conv import NeuralStyle, style_losses
    from pyimagesearch.nn.conv.device import describe_cpu

    print(f"[bench] {describe_cpu()}; {args.content} in {args.style} at {args.size} px, {args.normalization}")
    terms = {}
    for loss in ("gram", "w2", "sliced"):
        ns = NeuralStyle({"input_path": args.content, "style_path": args.style, "max_size": args.size,
                          "style_loss": loss, "loss_normalization": args.normalization, "quiet": True,
                          "output_path": tempfile.mkdtemp()})
        stage = ns.run.stage(ns.dims)
        _, _, got = stage.evaluate(stage.content, 0)
        terms[loss] = float(got["style"])
    scales = {"w2": style_losses.W2_SCALE[args.normalization], "sliced": style_losses.SLICED_SCALE[args.normalization]}
    for loss, value in terms.items():
        line = f"{loss:7s} style term {value:.4e}"
        if loss in scales:
            ratio = terms["gram"] / value
            line += (f" ({value / scales[loss]:.3g} before its scale {scales[loss]:.3g}); gram's is {ratio:.3g}x "
                     f"this: for equal terms the scale would be {scales[loss] * ratio:.3g}")
        print(line)


if __name__ == "__main__":
    main()
