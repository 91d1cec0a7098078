//! Text → resources: the nom parser for `/proc/iomem` and `/proc/ioports` dumps (issue 2).
