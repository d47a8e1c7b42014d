"""What normalisation did the paper's "Overall" use? Fit it from the paper's Table 1.

Overall = mean of (v - lo) / (hi - lo) over MS, SC, DOVER, AP is linear in the four scores, so each
dataset's 7 rows (5 unknowns: 4 slopes and an intercept) pin the range widths 1 / slope. Prints the
widths per dataset and the worst residual, and how far VBench's own MS / SC ranges are from them.

    python scripts/fit_paper_overall.py
"""

import numpy as np

# MS, SC, DOVER, AP, Overall (Table 1 of the paper; rows: input, Rerender, FRESCO, TokenFlow, BIVDiff,
# AnyV2V, EVS)
TABLE1 = {
    "VC2": [(0.9829, 0.9738, 55.17, 4.50, 0.6435), (0.9820, 0.9745, 76.39, 5.29, 0.8385),
            (0.9745, 0.9706, 73.59, 5.44, 0.7917), (0.9696, 0.9786, 64.47, 4.39, 0.6759),
            (0.9885, 0.9800, 64.62, 5.05, 0.7707), (0.9775, 0.9540, 73.10, 5.11, 0.7483),
            (0.9881, 0.9808, 73.20, 5.46, 0.8545)],
    "AD2": [(0.9769, 0.9484, 73.32, 4.69, 0.5806), (0.9750, 0.9496, 85.05, 5.73, 0.8197),
            (0.9667, 0.9396, 82.28, 5.08, 0.6968), (0.9630, 0.9541, 72.77, 4.65, 0.5369),
            (0.9758, 0.9513, 74.39, 4.91, 0.6107), (0.9751, 0.9270, 76.93, 4.89, 0.5998),
            (0.9825, 0.9530, 84.30, 5.42, 0.8243)],
}


def main() -> None:
    print(f"{'dataset':<8}{'MS width':>10}{'SC width':>10}{'DOVER width':>13}{'AP width':>10}{'max resid':>11}")
    for name, rows in TABLE1.items():
        a = np.array(rows)
        x = np.column_stack([a[:, :4], np.ones(len(a))])
        coef, *_ = np.linalg.lstsq(x, 4 * a[:, 4], rcond=None)
        resid = np.abs(x @ coef - 4 * a[:, 4]).max() / 4
        w = 1 / coef[:4]
        print(f"{name:<8}{w[0]:>10.4f}{w[1]:>10.4f}{w[2]:>13.2f}{w[3]:>10.3f}{resid:>11.1e}")
    print("VBench scripts/constant.py widths: MS 0.2915 (0.706-0.9975), SC 0.8538 (0.1462-1.0)")


if __name__ == "__main__":
    main()
