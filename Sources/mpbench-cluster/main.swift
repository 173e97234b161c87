import ArgumentParser
import Multiprocessing
import ToolSupport

// `mpbench cluster`, which mpbench runs in its place: see ClusterLauncher in mpbench.
bootstrapMultiprocessing(entryPoints: [])
ClusterCommand.runAsRoot()
