"""Cases and measures of `studies/eval_demo.py` (numpy/torch only, no ComfyUI import).

- cases: seeded drag cases (object dragged 10-16 px in a random direction, staying inside
  the image), corrupted guide images for image-to-image, and partial-object masks of about
  20 % / 40 % of the image for inpainting, all built from `demo/scenes.py`;
- identity: the object's colour (palette colour with the most pixels of its chromaticity
  near the target) and shape class (disc / square / triangle) of the segmented object's
  largest connected component, by a small classifier (LDA) trained on scenes passed
  through the autoencoder, over shape moments and the IoU with the ideal disc, square
  and triangle of the same area and centroid at their best rotation;
- connected components by a small numpy flood fill (no scipy);
- the Frechet distance between two sets of feature vectors (no scipy: eigendecompositions), and
  the gap between two methods' distances with a paired bootstrap interval over cases;
- the realism controls: a square pasted without blending (the known artefact a two-sample test
  must detect) and translation-invariant local statistics of the latents (features that detect it).
"""
from __future__ import annotations

import math

import numpy as np

from demo import metrics, scenes
from demo.make_cases import editable_mask

SIZE = scenes.IMAGE_SIZE
PALETTE = list(scenes.COLOURS)

# --------------------------------------------------------------------------- cases


def drag_cases(seed: int, n: int, min_px: float = 10.0, max_px: float = 16.0) -> list[dict]:
    """`n` drag cases: a fresh scene, its object's centroid as the source, a target 10-16 px
    away in a uniformly random direction with the whole object still inside the image, and
    the editable mask (the box around both positions plus 4 px, as the bundled cases)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        params = scenes.sample_params(rng)
        image, meta = scenes.render_scene(params)
        src = np.array(meta["centroid"])
        ext = scenes.shape_extent(params["shape"], params["radius"])
        lo, hi = ext + 1.0, SIZE - 1.0 - ext - 1.0
        for _ in range(64):
            angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(min_px, max_px)
            tgt = src + length * np.array([math.cos(angle), math.sin(angle)])
            if (tgt >= lo).all() and (tgt <= hi).all():
                break
        else:
            continue  # object too large to move that far in any direction: next scene
        cases.append({
            "image": image, "params": params, "prompt": meta["prompt"], "shape": params["shape"],
            "colour": params["colour"], "rgb": params["obj_rgb"], "extent": ext,
            "source": [float(v) for v in src], "target": [float(v) for v in tgt], "length": float(length),
            "mask": editable_mask(src, tgt, ext), "area": meta["area"],
        })
    return cases


def flat_blob(image: np.ndarray, params: dict, meta: dict) -> np.ndarray:
    """The object replaced by a flat disc of its base colour, of equal area, soft-edged:
    no shading, no texture, no shape."""
    background = scenes.render_scene({**params, "radius": -10.0})[0]  # the same scene, no object
    r = math.sqrt(max(meta["area"], 1.0) / math.pi)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cx, cy = meta["centroid"]
    blob = np.clip(r + 0.5 - np.hypot(xx - cx, yy - cy), 0, 1)[..., None]
    return (background * (1 - blob) + np.asarray(params["obj_rgb"], np.float32) * blob).astype(np.float32)


def hue_shift(image: np.ndarray, meta: dict, degrees: float) -> np.ndarray:
    """The object's colour rotated in hue by `degrees` (an off-palette colour); the rest kept."""
    a = meta["alpha"][..., None]
    img = image.astype(np.float64)
    # rotation about the grey axis in RGB space (Rodrigues), which is a hue rotation
    th = math.radians(degrees)
    k = np.ones(3) / math.sqrt(3)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    R = np.eye(3) + math.sin(th) * K + (1 - math.cos(th)) * K @ K
    shifted = np.clip(img @ R.T, 0, 1)
    return (img * (1 - a) + shifted * a).astype(np.float32)


def guide_images(seed: int, n: int) -> tuple[np.ndarray, list[dict]]:
    """`n` image-to-image guides: fresh scenes with the object corrupted, alternately a flat
    colour blob ("blob") and a hue shift of 40-80 degrees ("hue")."""
    rng = np.random.default_rng(seed)
    images, infos = [], []
    for i in range(n):
        params = scenes.sample_params(rng)
        image, meta = scenes.render_scene(params)
        if i % 2 == 0:
            guide, kind = flat_blob(image, params, meta), "blob"
        else:
            guide, kind = hue_shift(image, meta, float(rng.choice([-1, 1]) * rng.uniform(40, 80))), "hue"
        images.append(guide)
        infos.append({"prompt": meta["prompt"], "kind": kind, "clean": image})
    return np.stack(images), infos


def inpaint_cases(seed: int, n: int, side: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """`n` fresh scenes and square masks of `side` px (on the latent grid) that cover part of
    the object: the square's centre is half a side from the object's centroid, in a random
    direction, clipped inside the image. Returns (images [n,H,W,3], masks [n,H,W], infos)."""
    rng = np.random.default_rng(seed)
    images, masks, infos = [], [], []
    for _ in range(n):
        params = scenes.sample_params(rng)
        image, meta = scenes.render_scene(params)
        cx, cy = meta["centroid"]
        angle = rng.uniform(0, 2 * math.pi)
        mx, my = cx + 0.5 * side * math.cos(angle), cy + 0.5 * side * math.sin(angle)
        x0 = int(np.clip(round((mx - side / 2) / 4) * 4, 0, SIZE - side))
        y0 = int(np.clip(round((my - side / 2) / 4) * 4, 0, SIZE - side))
        mask = np.zeros((SIZE, SIZE), np.float32)
        mask[y0:y0 + side, x0:x0 + side] = 1
        images.append(image)
        masks.append(mask)
        infos.append({"prompt": meta["prompt"], "rgb": params["obj_rgb"], "shape": params["shape"],
                      "colour": params["colour"], "area": meta["area"],
                      "covered": float((meta["alpha"] * mask).sum() / max(meta["area"], 1e-6))})
    return np.stack(images), np.stack(masks), infos


# --------------------------------------------------------------------------- components


def components(mask: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """4-connected components of a boolean mask: (labels, 0 = none, and the size of each)."""
    mask = np.asarray(mask, bool)
    h, w = mask.shape
    labels = np.zeros((h, w), np.int32)
    sizes = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if labels[y0, x0]:
            continue
        label = len(sizes) + 1
        labels[y0, x0] = label
        stack, size = [(y0, x0)], 0
        while stack:
            y, x = stack.pop()
            size += 1
            for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not labels[yy, xx]:
                    labels[yy, xx] = label
                    stack.append((yy, xx))
        sizes.append(size)
    return labels, sizes


def largest_component(mask: np.ndarray) -> np.ndarray:
    labels, sizes = components(mask)
    if not sizes:
        return np.zeros_like(mask, dtype=bool)
    return labels == (int(np.argmax(sizes)) + 1)


def single_connected_shape(image: np.ndarray, rgb, area: float, share: float = 0.95,
                           min_area: float = 0.3) -> bool:
    """The object (pixels of its colour) is one connected shape: its largest 4-connected
    component holds at least `share` of them, and it has at least `min_area` of the input
    object's area (a vanished object is not a shape)."""
    obj = metrics.object_mask(image, rgb)
    total = int(obj.sum())
    if total < min_area * area or total == 0:
        return False
    _, sizes = components(obj)
    return max(sizes) >= share * total


# --------------------------------------------------------------------------- identity


def _chroma(rgb):
    rgb = np.asarray(rgb, np.float64)
    return rgb / (rgb.sum(-1, keepdims=True) + 1e-6)


def classify_colour(image: np.ndarray, region: np.ndarray | None = None, min_px: int = 8):
    """The palette colour with the most pixels of its chromaticity (demo/metrics.object_mask's
    test, each pixel to its nearest palette colour) inside `region`; None under `min_px`."""
    img = np.asarray(image, np.float64)
    chroma = _chroma(img)
    refs = np.stack([_chroma(scenes.COLOURS[c]) for c in PALETTE])              # [K,3]
    dist = np.abs(chroma[..., None, :] - refs).max(-1)                          # [H,W,K]
    nearest = dist.argmin(-1)
    ok = dist.min(-1) < 0.22 / 3
    bright = img.max(-1)[..., None] > 0.25 * np.array([max(scenes.COLOURS[c]) for c in PALETTE])
    ok &= np.take_along_axis(bright, nearest[..., None], -1)[..., 0]
    if region is not None:
        ok &= region
    counts = np.bincount(nearest[ok], minlength=len(PALETTE))
    if counts.max() < min_px:
        return None
    return PALETTE[int(counts.argmax())]


def _shape_sdf(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    dx, dy = xx - cx, yy - cy
    u = math.cos(angle) * dx + math.sin(angle) * dy
    v = -math.sin(angle) * dx + math.cos(angle) * dy
    if shape == "disc":
        return np.hypot(u, v) - r
    if shape == "square":
        h = r * scenes.SQUARE_HALF
        return np.maximum(np.abs(u), np.abs(v)) - h
    R = r * scenes.TRIANGLE_CIRCUM
    return np.max([u * math.cos(a) + v * math.sin(a) - R / 2
                   for a in (math.pi / 2 + 2 * math.pi * k / 3 for k in range(3))], axis=0)


TRIANGLE_AREA = 3 * math.sqrt(3) / 4 * scenes.TRIANGLE_CIRCUM ** 2   # area / r^2
_ANGLES = {"disc": [0.0], "square": list(np.linspace(0, math.pi / 2, 12, endpoint=False)),
           "triangle": list(np.linspace(0, 2 * math.pi / 3, 16, endpoint=False))}


SHAPE_TOL = 0.4  # chromaticity tolerance of the shape's segmentation (the AE's blur needs more than 0.22)


def object_shape_mask(image: np.ndarray, colour: str, tol: float = SHAPE_TOL) -> np.ndarray:
    """The largest 4-connected component of the pixels of `colour`'s chromaticity."""
    return largest_component(metrics.object_mask(image, scenes.COLOURS[colour], tol=tol))


def shape_features(mask: np.ndarray) -> np.ndarray:
    """[IoU with the best disc, square, triangle (same area and centroid), normalised moment
    of inertia (2 pi I / A^2: 1 for a disc), area / (pi r99^2) with r99 the 99th percentile
    of the pixels' distance to the centroid]; zeros for an empty mask."""
    mask = np.asarray(mask, bool)
    area = float(mask.sum())
    if area < 8:
        return np.zeros(5)
    ys, xs = np.nonzero(mask)
    cx, cy = float(xs.mean()), float(ys.mean())
    best = []
    for shape in scenes.SHAPES:
        r = math.sqrt(area / (TRIANGLE_AREA if shape == "triangle" else math.pi))
        best.append(max(float(((t := _shape_sdf(shape, cx, cy, r, a) <= 0) & mask).sum() / max((t | mask).sum(), 1))
                        for a in _ANGLES[shape]))
    d2 = (xs - cx) ** 2 + (ys - cy) ** 2
    return np.array(best + [2 * math.pi * d2.sum() / area ** 2, area / (math.pi * max(np.percentile(d2, 99), 1.0))])


class ShapeClassifier:
    """A small classifier of the shape class trained on scenes (through the autoencoder, as
    the results are): Gaussian classes with a pooled covariance over `shape_features`
    (linear discriminant analysis, equal priors)."""

    def fit(self, features: np.ndarray, labels) -> "ShapeClassifier":
        X, y = np.asarray(features, np.float64), np.asarray(labels)
        self.classes = list(scenes.SHAPES)
        self.means = np.stack([X[y == c].mean(0) for c in self.classes])
        cov = sum(np.cov(X[y == c], rowvar=False) for c in self.classes) / len(self.classes)
        self.precision = np.linalg.inv(cov + 1e-6 * np.eye(X.shape[1]))
        self.train_accuracy = float(np.mean([p == t for p, t in zip(self.predict(X), y)]))
        return self

    def predict(self, features: np.ndarray) -> list[str]:
        X = np.atleast_2d(np.asarray(features, np.float64))
        d = np.stack([np.einsum("ni,ij,nj->n", X - m, self.precision, X - m) for m in self.means], 1)
        return [self.classes[k] for k in d.argmin(1)]

    def to_json(self) -> dict:
        return {"classes": self.classes, "means": self.means.round(4).tolist(),
                "train_accuracy": self.train_accuracy}


def identity(image: np.ndarray, target, extent: float, classifier: ShapeClassifier | None = None) -> dict:
    """The object's colour (palette colour with most pixels within extent + 3 px of `target`)
    and shape class (of the largest connected component of that colour's pixels: by
    `classifier`, else the best-IoU ideal shape)."""
    region = metrics.disc((SIZE, SIZE), target, extent + 3)
    colour = classify_colour(image, region)
    if colour is None:
        return {"colour": None, "shape": None, "shape_iou": 0.0}
    mask = object_shape_mask(image, colour)
    if mask.sum() < 8:
        return {"colour": colour, "shape": None, "shape_iou": 0.0}
    feats = shape_features(mask)
    shape = classifier.predict(feats)[0] if classifier is not None else scenes.SHAPES[int(np.argmax(feats[:3]))]
    return {"colour": colour, "shape": shape, "shape_iou": float(feats[:3].max())}


# --------------------------------------------------------------------------- realism


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets a [n, d] and b [m, d]:
    |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^1/2 S_b S_a^1/2)^1/2).

    With centred features X_a, X_b the nonzero eigenvalues of S_a S_b are the squared
    singular values of X_a X_b^T / sqrt((n-1)(m-1)), so the trace term is an n x m SVD
    (exact, and cheap for n, m of a few hundred whatever d is)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("frechet_distance: need at least 2 samples per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    xa, xb = a - mu_a, b - mu_b
    na, nb = len(a) - 1, len(b) - 1
    cross = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / math.sqrt(na * nb)
    return float(((mu_a - mu_b) ** 2).sum() + (xa ** 2).sum() / na + (xb ** 2).sum() / nb - 2 * cross)


def frechet_from_grams(g_aa: np.ndarray, g_ab: np.ndarray, g_bb: np.ndarray) -> float:
    """`frechet_distance(a, b)` from the Gram matrices G_aa = a a^T, G_ab = a b^T, G_bb = b b^T,
    so that a resample of rows costs O(n^2) whatever the features' dimension:
    |mu_a - mu_b|^2 = mean(G_aa) + mean(G_bb) - 2 mean(G_ab), tr(S_a) = (tr G_aa - n mean(G_aa)) / (n - 1),
    and the centred cross product X_a X_b^T = H_n G_ab H_m (H: the centring matrix), whose singular
    values give the trace term as in `frechet_distance`."""
    n, m = g_ab.shape
    cross = g_ab - g_ab.mean(1, keepdims=True) - g_ab.mean(0, keepdims=True) + g_ab.mean()
    trace_a = (np.trace(g_aa) - n * g_aa.mean()) / (n - 1)
    trace_b = (np.trace(g_bb) - m * g_bb.mean()) / (m - 1)
    root = np.linalg.svd(cross, compute_uv=False).sum() / math.sqrt((n - 1) * (m - 1))
    return float(g_aa.mean() + g_bb.mean() - 2 * g_ab.mean() + trace_a + trace_b - 2 * root)


def frechet_gap(a: np.ndarray, b: np.ndarray, reference: np.ndarray, seed: int = 0, n_boot: int = 1000,
                level: float = 0.95) -> dict:
    """The gap FD(a, ref) - FD(b, ref) between two methods run on the same cases (row i of `a`
    and of `b` come from case i), with a paired percentile bootstrap interval.

    Each of `n_boot` replicates draws case indices i* ~ U{0..n-1}^n, used for both methods (the
    pairing: a case that is hard for one is hard for the other), and reference indices
    j* ~ U{0..m-1}^m (the reference set is a sample too), then takes
    FD(a[i*], ref[j*]) - FD(b[i*], ref[j*]) (by `frechet_from_grams`). Repeated rows shrink a
    resample's covariance, which biases each distance upwards; the bias is shared by the two
    distances of a replicate and largely cancels in their difference, which is why the interval
    is of the gap, not of each distance."""
    a, b, ref = (np.asarray(x, np.float64) for x in (a, b, reference))
    if a.shape != b.shape:
        raise ValueError(f"frechet_gap: the two methods need one row per case each, got {a.shape} and {b.shape}")
    gap = frechet_distance(a, ref) - frechet_distance(b, ref)  # exactly the difference of the reported distances
    offset = ref.mean(0)  # the distance is translation-invariant; centring keeps the Grams well conditioned
    a, b, ref = a - offset, b - offset, ref - offset
    g_aa, g_bb, g_rr, g_ar, g_br = a @ a.T, b @ b.T, ref @ ref.T, a @ ref.T, b @ ref.T
    rng = np.random.default_rng(seed)
    gaps = np.empty(n_boot)
    for k in range(n_boot):
        i, j = rng.integers(0, len(a), len(a)), rng.integers(0, len(ref), len(ref))
        rr = g_rr[np.ix_(j, j)]
        gaps[k] = (frechet_from_grams(g_aa[np.ix_(i, i)], g_ar[np.ix_(i, j)], rr)
                   - frechet_from_grams(g_bb[np.ix_(i, i)], g_br[np.ix_(i, j)], rr))
    lo, hi = np.quantile(gaps, [(1 - level) / 2, (1 + level) / 2])
    return {"gap": gap, "ci95": [float(lo), float(hi)],
            "n_boot": n_boot, "seed": seed}


def l2_quarter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image L2 distance between images [n,H,W,3] in [0,1] after 4x4 average pooling
    (1/4 resolution: 16x16x3 values)."""
    def pool(x):
        x = np.asarray(x, np.float64)
        n, h, w, c = x.shape
        return x.reshape(n, h // 4, 4, w // 4, 4, c).mean((2, 4))
    return np.sqrt(((pool(a) - pool(b)) ** 2).sum((1, 2, 3)))


# --------------------------------------------------------------------------- ground truth (declared measures)


def patch(image: np.ndarray, centre, gamma: int) -> np.ndarray:
    """The (2 gamma + 1)^2 pixel square around `centre` (x, y), edge-padded so it always exists."""
    x, y = (int(round(float(v))) for v in centre)
    padded = np.pad(np.asarray(image, np.float64), ((gamma, gamma), (gamma, gamma), (0, 0)), mode="edge")
    return padded[y:y + 2 * gamma + 1, x:x + 2 * gamma + 1]


def dai(result: np.ndarray, original: np.ndarray, source, target, gamma: int) -> float:
    """Drag accuracy index (GoodDrag's DAI) for one point pair: the mean squared difference
    between the result's patch at the target and the original's patch at the source,
    ||P_gamma(result, target) - P_gamma(original, source)||^2 / ((2 gamma + 1)^2 * 3)
    (pixels in [0, 1]; 0 = the content arrived unchanged)."""
    return float(((patch(result, target, gamma) - patch(original, source, gamma)) ** 2).mean())


def ground_truth(result: np.ndarray, moved: np.ndarray, moved_ae: np.ndarray, original: np.ndarray, region: np.ndarray,
                 source, target, gammas=(1, 4, 8)) -> dict:
    """The declared ground-truth measures of one drag result (images [H, W, 3] in [0, 1]):
    - gt_l1: mean |result - moved| over the edited region (the mask), `moved` = the scene
      rendered with its object at the target;
    - gt_l1_ae: the same against the autoencoder's reconstruction of `moved` (what a perfect
      drag can reach through this decoder);
    - dai_<g>: `dai(result, original, source, target, g)` for each patch half-width g."""
    where = np.asarray(region, bool)
    out = {"gt_l1": float(np.abs(result - moved)[where].mean()), "gt_l1_ae": float(np.abs(result - moved_ae)[where].mean())}
    out.update({f"dai_{g}": dai(result, original, source, target, g) for g in gammas})
    return out


def bootstrap_ci(values, seed: int = 0, n_boot: int = 2000, level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval of the mean of `values` (resampling cases)."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return [float("nan"), float("nan")]
    means = v[np.random.default_rng(seed).integers(0, len(v), (n_boot, len(v)))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def _logistic_fit(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 25) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method; x has a bias column."""
    w = np.zeros(x.shape[1])
    reg = l2 * np.eye(x.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + reg @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + reg
        w -= np.linalg.solve(hess, grad)
    return w


def c2st(a: np.ndarray, b: np.ndarray, seed: int = 0, folds: int = 10, dims: int = 16, l2: float = 1.0) -> dict:
    """Classifier two-sample test: k-fold cross-validated accuracy of a logistic regression
    telling set `a` from set `b` (feature rows), on the top `dims` principal components of
    both sets pooled (fitted on the training folds only) plus their squares. 0.5 = the
    classifier cannot tell them apart; `p` is the one-sided binomial probability of at least
    that many correct held-out answers by chance (accuracy 1/2)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    x = np.concatenate([a, b])
    y = np.concatenate([np.ones(len(a)), np.zeros(len(b))])
    order = np.random.default_rng(seed).permutation(len(x))
    correct = 0
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        mu = x[train].mean(0)
        _, _, vt = np.linalg.svd(x[train] - mu, full_matrices=False)
        basis = vt[:dims].T

        def feats(rows):
            z = (x[rows] - mu) @ basis
            return z, np.concatenate([z, z ** 2], 1)

        ztr, ftr = feats(train)
        scale = ftr.std(0) + 1e-12
        centre = ftr.mean(0)
        add_bias = lambda f: np.concatenate([(f - centre) / scale, np.ones((len(f), 1))], 1)  # noqa: E731
        w = _logistic_fit(add_bias(ftr), y[train], l2)
        _, fte = feats(test)
        correct += int((((add_bias(fte) @ w) > 0) == (y[test] > 0.5)).sum())
    n = len(x)
    p = sum(math.comb(n, i) for i in range(correct, n + 1)) / 2 ** n
    return {"accuracy": correct / n, "n": n, "p": float(p)}


# --------------------------------------------------------------------------- realism controls


def paste_unblended(image: np.ndarray, source, target, half: int) -> np.ndarray:
    """The known artefact of the realism controls: the (2 half + 1)^2 pixel square around
    `source` (x, y) copied onto the square around `target`, hard-edged, with nothing redrawn
    (the object stays at the source where the paste does not cover it). Pixels whose source
    or target falls outside the image are left as they are."""
    img = np.asarray(image)
    out = img.copy()
    (sx, sy), (tx, ty) = ((round(float(v)) for v in p) for p in (source, target))
    h, w = img.shape[:2]
    # the offsets d for which both s + d and t + d lie inside the image, per axis
    lo_x, hi_x = max(-half, -sx, -tx), min(half, w - 1 - sx, w - 1 - tx)
    lo_y, hi_y = max(-half, -sy, -ty), min(half, h - 1 - sy, h - 1 - ty)
    if lo_x <= hi_x and lo_y <= hi_y:
        out[ty + lo_y:ty + hi_y + 1, tx + lo_x:tx + hi_x + 1] = img[sy + lo_y:sy + hi_y + 1, sx + lo_x:sx + hi_x + 1]
    return out


def local_statistics(latents: np.ndarray) -> np.ndarray:
    """Translation-invariant statistics of latents [n, C, H, W], 8 per channel c, with
    dx = z[..., :, 1:] - z[..., :, :-1] and dy = z[..., 1:, :] - z[..., :-1, :]:
    mean(z_c), std(z_c), mean(dx_c^2), mean(dy_c^2), max|dx_c|, max|dy_c|, and the 95th
    percentiles of |dx_c| and |dy_c|. A seam or a doubled object changes them wherever it
    lies; the flattened latents of `c2st`'s default features see mostly where things are,
    and their top principal components miss an artefact whose place varies from case to case."""
    z = np.asarray(latents, np.float64)
    n, c = z.shape[:2]
    dx, dy = np.abs(np.diff(z, axis=-1)).reshape(n, c, -1), np.abs(np.diff(z, axis=-2)).reshape(n, c, -1)
    flat = z.reshape(n, c, -1)
    stats = [flat.mean(-1), flat.std(-1), (dx ** 2).mean(-1), (dy ** 2).mean(-1), dx.max(-1), dy.max(-1),
             np.quantile(dx, 0.95, axis=-1), np.quantile(dy, 0.95, axis=-1)]
    return np.concatenate(stats, 1)
