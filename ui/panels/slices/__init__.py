"""The Slices page's sections: the slice builder, the slice-vs-rest summary, and its six views."""
