/* The batched /proc pass of the _procfd extension (reserved: filled in by the batch work; see _procfd.c). */
