// A C++ program whose operator new fails and throws bad_alloc (the exception object is then
// allocated and freed by the C++ runtime) and that dlopen()s and dlclose()s a library.
// Checked by tests/integration/json_expect.py: every free matches an allocation memscope saw.
#include <new>
#include <cstdio>
#include <vector>
#include <dlfcn.h>
int main()
{
    try {
        std::vector<char> v;
        v.reserve((size_t)1 << 62);
    } catch (const std::exception &e) {
        std::printf("caught %s\n", e.what());
    }
    try {
        char *p = new char[(size_t)1 << 62];
        delete[] p;
    } catch (const std::bad_alloc &e) {
        std::printf("caught bad_alloc\n");
    }
    int *q = new int[10];
    delete[] q;
    void *h = dlopen("libz.so.1", RTLD_NOW);
    if (h) {
        void *f = dlsym(h, "zlibVersion");
        std::printf("zlib %s\n", ((const char *(*)())f)());
        dlclose(h);
    }
    return 0;
}
