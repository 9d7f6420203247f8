"""luojia's QGIS Processing provider (a plugin, as OTB's and SAGA's providers are)."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    from .plugin import LuojiaPlugin
    return LuojiaPlugin(iface)
