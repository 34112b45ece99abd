"""Generated networks for the scaling benchmark: residual units of Conv2d -> BatchNorm2d -> ReLU + Add."""


def residual_network(layers: int) -> str:
    """A flat .nns network of `layers` layers (4 per unit), written out in full so parsing counts too."""
    units = layers // 4
    lines = ["network Generated {", "    input image: [N, 16, 32, 32]", "    x = image"]
    for i in range(units):
        lines.append(f"    y{i} = x -> c{i}: Conv2d(16, 3, padding=1) -> b{i}: BatchNorm2d -> ReLU")
        lines.append(f"    x = (x, y{i}) -> Add")
    lines += ["    output x", "}", ""]
    return "\n".join(lines)
