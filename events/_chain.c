/* The log's hash chain in C: events.chain.chained_rows_py, the same rows ~2.5x faster.
 *
 * Built at install time if a C compiler and OpenSSL's headers are there (setup.py marks it
 * optional); events/chain.py falls back to the Python spelling otherwise. Each row's hash is
 * SHA-256 of "prev|seq|type|at|command_id|subject|v|" followed by the row's JSON, as hex: in
 * Python most of a row's time was the hashlib object's own overhead, not the digest.
 * tests/test_chain_speedup.py holds the two spellings equal, row for row and error for error.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co.: the EVP calls cost 1 us a row more */
#include <Python.h>
#include <openssl/sha.h>
#include <stdio.h>

static const char HEX[] = "0123456789abcdef";

/* A value as its f-string formats it, a new reference: str(obj), or "" for a false one where
 * the Python spelling writes `obj or ''` (a subject, a command id). */
static PyObject *text_of(PyObject *obj, int false_is_empty) {
    if (PyUnicode_CheckExact(obj) || (!false_is_empty && PyUnicode_Check(obj)))
        return Py_NewRef(obj);
    if (false_is_empty) {
        int truth = PyObject_IsTrue(obj);
        if (truth <= 0)
            return truth < 0 ? NULL : PyUnicode_FromStringAndSize("", 0);
    }
    return PyObject_Format(obj, NULL);
}

/* What every row of one call shares, formatted once: "|at|command_id|" and "|v|". */
typedef struct {
    char *middle;
    Py_ssize_t middle_size;
    char tail[24];
    int tail_size;
} Shared;

/* Append one row's five values (seq, type, subject, data as str, hash) to values; writes the
 * row's hash (64 hex digits) into prev. 0, or -1 with an exception set. */
static int chain_row(PyObject *values, PyObject *item, long long seq, char *prev, Py_ssize_t *prev_size,
                     const Shared *shared) {
    PyObject *type_obj, *data_obj, *subject_obj;
    PyObject *row = PySequence_Tuple(item);
    if (row == NULL)
        return -1;
    if (!PyArg_ParseTuple(row, "OOO:chained_rows item", &type_obj, &data_obj, &subject_obj)) {
        Py_DECREF(row);
        return -1;
    }
    const char *type_text, *subject_text, *data_text;
    Py_ssize_t type_size, subject_size, data_size;
    PyObject *data_str = NULL, *seq_obj = NULL, *hash_obj = NULL;
    PyObject *type_str = text_of(type_obj, 0), *subject_str = text_of(subject_obj, 1);
    int result = -1;
    if (type_str == NULL || subject_str == NULL ||
        (type_text = PyUnicode_AsUTF8AndSize(type_str, &type_size)) == NULL ||
        (subject_text = PyUnicode_AsUTF8AndSize(subject_str, &subject_size)) == NULL)
        goto done;
    if (PyBytes_Check(data_obj)) { /* stored as TEXT: decoded, and refused if not UTF-8 */
        data_text = PyBytes_AS_STRING(data_obj);
        data_size = PyBytes_GET_SIZE(data_obj);
        data_str = PyUnicode_DecodeUTF8(data_text, data_size, "strict");
    } else if (PyUnicode_Check(data_obj)) {
        data_text = PyUnicode_AsUTF8AndSize(data_obj, &data_size);
        data_str = data_text == NULL ? NULL : Py_NewRef(data_obj);
    } else {
        PyErr_Format(PyExc_TypeError, "an event's data must be bytes or str, not %.100s",
                     Py_TYPE(data_obj)->tp_name);
    }
    if (data_str == NULL)
        goto done;
    char seq_text[24];
    int seq_size = snprintf(seq_text, sizeof seq_text, "%lld", seq);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX sha;
    SHA256_Init(&sha);
    SHA256_Update(&sha, prev, (size_t)*prev_size);
    SHA256_Update(&sha, "|", 1);
    SHA256_Update(&sha, seq_text, (size_t)seq_size);
    SHA256_Update(&sha, "|", 1);
    SHA256_Update(&sha, type_text, (size_t)type_size);
    SHA256_Update(&sha, shared->middle, (size_t)shared->middle_size);
    SHA256_Update(&sha, subject_text, (size_t)subject_size);
    SHA256_Update(&sha, shared->tail, (size_t)shared->tail_size);
    SHA256_Update(&sha, data_text, (size_t)data_size);
    SHA256_Final(digest, &sha);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        prev[2 * i] = HEX[digest[i] >> 4];
        prev[2 * i + 1] = HEX[digest[i] & 15];
    }
    *prev_size = 2 * SHA256_DIGEST_LENGTH;
    seq_obj = PyLong_FromLongLong(seq);
    hash_obj = PyUnicode_FromStringAndSize(prev, *prev_size);
    if (seq_obj == NULL || hash_obj == NULL)
        goto done;
    PyObject *five[5] = {seq_obj, type_obj, subject_obj, data_str, hash_obj};
    for (int i = 0; i < 5; i++)
        if (PyList_Append(values, five[i]) < 0)
            goto done;
    result = 0;
done:
    Py_XDECREF(hash_obj);
    Py_XDECREF(seq_obj);
    Py_XDECREF(data_str);
    Py_XDECREF(subject_str);
    Py_XDECREF(type_str);
    Py_DECREF(row);
    return result;
}

PyDoc_STRVAR(chained_rows_doc,
"chained_rows(items, seq, prev, at, command_id, v) -> (values, last hash)\n\n"
"events.chain.chained_rows_py in C: one command's rows, (type, data, subject) each, as the\n"
"INSERT's values, five a row (seq, type, subject, data, hash), each hashed onto the one before.");

static PyObject *chained_rows(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *items, *prev_obj, *at_obj, *command_obj;
    long long seq;
    long v;
    if (!PyArg_ParseTuple(args, "OLOOOl:chained_rows", &items, &seq, &prev_obj, &at_obj, &command_obj, &v))
        return NULL;
    PyObject *prev_str = text_of(prev_obj, 0), *at_str = text_of(at_obj, 0), *command_str = text_of(command_obj, 1);
    const char *prev_text, *at, *command;
    Py_ssize_t prev_size, at_size, command_size;
    char *prev = NULL;
    Shared shared = {.middle = NULL};
    PyObject *iterator = NULL, *values = NULL, *result = NULL, *item;
    if (prev_str == NULL || at_str == NULL || command_str == NULL ||
        (prev_text = PyUnicode_AsUTF8AndSize(prev_str, &prev_size)) == NULL ||
        (at = PyUnicode_AsUTF8AndSize(at_str, &at_size)) == NULL ||
        (command = PyUnicode_AsUTF8AndSize(command_str, &command_size)) == NULL)
        goto done;
    shared.middle_size = at_size + command_size + 3;
    shared.tail_size = snprintf(shared.tail, sizeof shared.tail, "|%ld|", v);
    /* The first row chains onto prev as given; each after it onto the 64 hex digits before. */
    prev = PyMem_Malloc((size_t)(prev_size > 64 ? prev_size : 64));
    shared.middle = PyMem_Malloc((size_t)shared.middle_size);
    if (prev == NULL || shared.middle == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(prev, prev_text, (size_t)prev_size);
    shared.middle[0] = '|';
    memcpy(shared.middle + 1, at, (size_t)at_size);
    shared.middle[1 + at_size] = '|';
    memcpy(shared.middle + 2 + at_size, command, (size_t)command_size);
    shared.middle[2 + at_size + command_size] = '|';
    iterator = PyObject_GetIter(items);
    values = PyList_New(0);
    if (iterator == NULL || values == NULL)
        goto done;
    while ((item = PyIter_Next(iterator)) != NULL) {
        if (seq == LLONG_MAX) {
            PyErr_SetString(PyExc_OverflowError, "seq beyond a 64-bit integer");
            Py_DECREF(item);
            goto done;
        }
        int failed = chain_row(values, item, ++seq, prev, &prev_size, &shared);
        Py_DECREF(item);
        if (failed)
            goto done;
    }
    if (!PyErr_Occurred())
        result = Py_BuildValue("(Os#)", values, prev, prev_size);
done:
    Py_XDECREF(values);
    Py_XDECREF(iterator);
    PyMem_Free(prev);
    PyMem_Free(shared.middle);
    Py_XDECREF(command_str);
    Py_XDECREF(at_str);
    Py_XDECREF(prev_str);
    return result;
}

static PyMethodDef methods[] = {
    {"chained_rows", chained_rows, METH_VARARGS, chained_rows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "events._chain", "The log's hash chain in C (see events/chain.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__chain(void) {
    return PyModule_Create(&module);
}
