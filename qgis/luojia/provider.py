import os
import shutil

from qgis.core import QgsProcessingProvider

from . import algorithms

try:  # the Processing plugin's settings page, where QGIS has it
    from processing.core.ProcessingConfig import ProcessingConfig, Setting
except ImportError:  # headless without the Processing plugin
    ProcessingConfig = None

FOLDER_SETTING = "LUOJIA_FOLDER"


def programs_folder():
    """Where luojia's programs are: the provider setting, LUOJIA_BIN, or the PATH."""
    if ProcessingConfig is not None:
        folder = ProcessingConfig.getSetting(FOLDER_SETTING)
        if folder:
            return folder
    if os.environ.get("LUOJIA_BIN"):
        return os.environ["LUOJIA_BIN"]
    found = shutil.which("luojia-segment")
    return os.path.dirname(found) if found else ""


class LuojiaProvider(QgsProcessingProvider):
    def id(self):
        return "luojia"

    def name(self):
        return "luojia"

    def longName(self):  # noqa: N802
        return "luojia remote sensing interpretation"

    def load(self):
        if ProcessingConfig is not None:
            ProcessingConfig.settingIcons[self.name()] = self.icon()
            ProcessingConfig.addSetting(Setting(self.name(), FOLDER_SETTING, "Folder of the luojia programs", "",
                                                valuetype=Setting.FOLDER))
            ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self):
        if ProcessingConfig is not None:
            ProcessingConfig.removeSetting(FOLDER_SETTING)

    def loadAlgorithms(self):  # noqa: N802
        for algorithm in algorithms.all_algorithms(programs_folder):
            self.addAlgorithm(algorithm)
