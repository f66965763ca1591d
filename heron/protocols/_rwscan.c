/*
 * The compiled scanner of Prometheus remote-write 1.0 bodies in the layout Prometheus sends.
 *
 * heron.protocols.remote_write reads a request whose series each end in one sample by
 * looking up the bytes of each series' labels in a cache of known series. This module does
 * the part that is a loop over the body: it walks the top-level records once, checks each
 * series' layout, reads its value and timestamp, and looks its label bytes up in the
 * cache, in one pass of C. Everything it returns is also computed by the pure-Python path
 * (heron/protocols/remote_write.py, _parse_cached_v1), which is used when this module was
 * not built; tests compare the two on the same bodies.
 *
 *   scan_v1(body: bytes, cache: dict) -> tuple | None
 *
 * The layout accepted (anything else returns None and the caller decodes the body fully):
 *
 *   body    := ( 0x0a varint(len) series | 0x1a varint(len) metadata )*   at least one series
 *   series  := ( 0x0a varint(len) label-bytes )* 0x12 varint(len) sample  ending the series
 *   sample  := 0x09 <8-byte little-endian double> 0x10 varint(timestamp)
 *
 * Label bytes are not looked into: they are the cache key, and a series missing from the
 * cache is decoded by the caller. Every read is checked against the end of its record.
 *
 * Returns (entries, keys, firsts, lasts, values, stamps, metadata): per series its cache
 * entry or None, its label bytes, the offsets of its payload's first and past-last byte
 * (int64), its value (float64) and timestamp (int64, milliseconds), as bytes of native
 * arrays; and the number of metadata records.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Reads a varint of at most max_bytes at *pos (below end); 0 when it is cut short or too long. */
static int read_varint(const unsigned char *buf, Py_ssize_t end, Py_ssize_t *pos, int max_bytes, uint64_t *out)
{
    uint64_t value = 0;
    int shift = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (*pos >= end)
            return 0;
        unsigned char byte = buf[(*pos)++];
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (byte < 0x80) {
            *out = value;
            return 1;
        }
        shift += 7;
    }
    return 0;
}

/* A growable array of fixed-size items. */
typedef struct {
    char *data;
    Py_ssize_t used;
    Py_ssize_t size;
} Buffer;

static int buffer_put(Buffer *b, const void *item, Py_ssize_t n)
{
    if (b->used + n > b->size) {
        Py_ssize_t size = b->size ? b->size * 2 : 4096;
        while (size < b->used + n)
            size *= 2;
        char *grown = PyMem_Realloc(b->data, (size_t)size);
        if (grown == NULL)
            return 0;
        b->data = grown;
        b->size = size;
    }
    memcpy(b->data + b->used, item, (size_t)n);
    b->used += n;
    return 1;
}

/* Scans one series payload [start, end): the end of its labels, its value and timestamp. */
static int scan_series(const unsigned char *buf, Py_ssize_t start, Py_ssize_t end, Py_ssize_t *labels_end,
                       double *value, int64_t *stamp)
{
    Py_ssize_t pos = start;
    uint64_t length;
    while (pos < end && buf[pos] == 0x0a) {
        pos++;
        if (!read_varint(buf, end, &pos, 5, &length) || length > (uint64_t)(end - pos))
            return 0;
        pos += (Py_ssize_t)length;
    }
    *labels_end = pos;
    if (pos >= end || buf[pos] != 0x12)
        return 0;
    pos++;
    if (!read_varint(buf, end, &pos, 5, &length) || length != (uint64_t)(end - pos))
        return 0; /* the sample must be the series' last field */
    if (end - pos < 11 || buf[pos] != 0x09 || buf[pos + 9] != 0x10)
        return 0;
    uint64_t bits = 0;
    for (int i = 7; i >= 0; i--)
        bits = (bits << 8) | buf[pos + 1 + i];
    memcpy(value, &bits, sizeof bits);
    pos += 10;
    uint64_t ms;
    if (!read_varint(buf, end, &pos, 10, &ms) || pos != end)
        return 0;
    memcpy(stamp, &ms, sizeof ms);
    return 1;
}

static PyObject *scan_v1(PyObject *self, PyObject *args)
{
    Py_buffer view;
    PyObject *cache;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*O!", &view, &PyDict_Type, &cache))
        return NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t size = view.len, pos = 0;
    long metadata = 0;
    Buffer firsts = {0}, lasts = {0}, values = {0}, stamps = {0};
    PyObject *entries = PyList_New(0), *keys = PyList_New(0), *result = NULL;
    if (entries == NULL || keys == NULL)
        goto done;
    while (pos < size) {
        unsigned char tag = buf[pos++];
        uint64_t length;
        if ((tag != 0x0a && tag != 0x1a) || !read_varint(buf, size, &pos, 5, &length) ||
            length > (uint64_t)(size - pos))
            goto layout;
        Py_ssize_t start = pos, end = pos + (Py_ssize_t)length;
        pos = end;
        if (tag == 0x1a) {
            metadata++;
            continue;
        }
        Py_ssize_t labels_end;
        double value;
        int64_t stamp;
        if (!scan_series(buf, start, end, &labels_end, &value, &stamp))
            goto layout;
        int64_t first = start, last = end;
        if (!buffer_put(&firsts, &first, 8) || !buffer_put(&lasts, &last, 8) || !buffer_put(&values, &value, 8) ||
            !buffer_put(&stamps, &stamp, 8)) {
            PyErr_NoMemory();
            goto done;
        }
        PyObject *key = PyBytes_FromStringAndSize((const char *)buf + start, labels_end - start);
        if (key == NULL)
            goto done;
        PyObject *entry = PyDict_GetItemWithError(cache, key); /* borrowed */
        if (entry == NULL && PyErr_Occurred()) {
            Py_DECREF(key);
            goto done;
        }
        int failed = PyList_Append(keys, key) < 0 || PyList_Append(entries, entry ? entry : Py_None) < 0;
        Py_DECREF(key);
        if (failed)
            goto done;
    }
    if (PyList_GET_SIZE(entries) == 0)
        goto layout;
    result = Py_BuildValue("(OOy#y#y#y#l)", entries, keys, firsts.data, firsts.used, lasts.data, lasts.used,
                           values.data, values.used, stamps.data, stamps.used, metadata);
    goto done;
layout:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(entries);
    Py_XDECREF(keys);
    PyMem_Free(firsts.data);
    PyMem_Free(lasts.data);
    PyMem_Free(values.data);
    PyMem_Free(stamps.data);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_v1", scan_v1, METH_VARARGS, "Scan a remote-write 1.0 body in Prometheus's layout (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rwscan", "Compiled remote-write scanner.", -1, methods};

PyMODINIT_FUNC PyInit__rwscan(void)
{
    return PyModule_Create(&module);
}
