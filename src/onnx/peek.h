/* Reading a model file's op types without loading it (reports of unloadable models). */
#ifndef ONNX_PEEK_H
#define ONNX_PEEK_H

/* Fills *types with the distinct op types of the main graph in file order (each and the
 * array malloc'd; free with onnx_peek_free). Returns the count, or -1 if unreadable. */
int onnx_peek_op_types(const char *path, char ***types);
void onnx_peek_free(char **types, int n);

#endif
