/*
 * cxx_alloc.cpp - C++ allocation operators and standard containers.
 *
 * Pattern:
 *   - new Widget / delete (sized delete: -fsized-deallocation is the
 *     default in C++14 and later, so `delete w` calls operator
 *     delete(void*, size_t))
 *   - new int[100] / delete[]; new Widget[5] / delete[] (array cookie: the
 *     requested size is 5*sizeof(Widget)+8)
 *   - new (std::nothrow) char[77] / delete[]
 *   - new (std::align_val_t(64)) Aligned64 / delete (aligned new + aligned
 *     sized delete); an aligned new[] that is leaked     (LEAK: aligned_new_arr)
 *   - std::vector<int> grown by push_back 1000 times, std::string grown by
 *     append 100 times, std::map<int, std::string> with 50 entries
 *   - leaks: one new Widget from make_widget()           (LEAK: new_widget)
 *            one new char[333] from a helper             (LEAK: new_array)
 * libstdc++ allocates its 72,704-byte emergency exception pool at startup;
 * it is freed by __gnu_cxx::__freeres, which valgrind (and memscope) call
 * at exit.

 *
 * Observed with valgrind 3.19 (Debian 12, glibc 2.36, gcc 12, -g -O0, stdout a pipe;
 * a tty would make the stdout buffer 1024 bytes instead of 4096):
 *   total heap usage: 128 allocs, 125 frees, 93,764 bytes allocated
 *   in use at exit: 757 bytes in 3 blocks
 *   (40 + 333 + 384; includes the 72,704-byte libstdc++ pool, freed at exit)
 * tests/integration/oracle.py compares memscope with a live valgrind run; these
 * figures are documentation, not hard-coded expectations.
 */
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

struct Widget {
    int id;
    double weight;
    char tag[20];
};

struct alignas(64) Aligned64 {
    char data[128];
};

static Widget *make_widget(int id)
{
    Widget *w = new Widget; /* LEAK: new_widget */
    w->id = id;
    w->weight = id * 1.5;
    std::strcpy(w->tag, "widget");
    return w;
}

static char *make_buffer(std::size_t n)
{
    char *p = new char[n]; /* LEAK: new_array */
    std::memset(p, 'b', n);
    return p;
}

static Aligned64 *make_aligned_array(std::size_t n)
{
    return new Aligned64[n]; /* LEAK: aligned_new_arr */
}

int main()
{
    long sum = 0;

    Widget *w = new Widget{7, 2.0, "seven"};
    sum += w->id;
    delete w;

    int *ints = new int[100];
    for (int i = 0; i < 100; i++)
        ints[i] = i;
    sum += ints[99];
    delete[] ints;

    Widget *ws = new Widget[5];
    ws[4].id = 4;
    sum += ws[4].id;
    delete[] ws;

    char *nt = new (std::nothrow) char[77];
    if (nt) {
        nt[76] = 1;
        sum += nt[76];
    }
    delete[] nt;

    Aligned64 *a = new Aligned64;
    sum += (reinterpret_cast<std::uintptr_t>(a) % 64) == 0;
    delete a;

    Aligned64 *explicit_al =
        static_cast<Aligned64 *>(::operator new(sizeof(Aligned64), std::align_val_t(64)));
    sum += (reinterpret_cast<std::uintptr_t>(explicit_al) % 64) == 0;
    ::operator delete(explicit_al, sizeof(Aligned64), std::align_val_t(64));

    {
        std::vector<int> v;
        for (int i = 0; i < 1000; i++)
            v.push_back(i);
        sum += v[999];

        std::string s;
        for (int i = 0; i < 100; i++)
            s.append("abcdefgh");
        sum += static_cast<long>(s.size());

        std::map<int, std::string> m;
        for (int i = 0; i < 50; i++)
            m[i] = std::string(30, static_cast<char>('a' + i % 26));
        sum += static_cast<long>(m[49].size());
    }

    Widget *leaked = make_widget(42);
    char *buf = make_buffer(333);
    Aligned64 *arr = make_aligned_array(3);
    sum += leaked->id + buf[332] + static_cast<long>(sizeof(arr[0]));

    std::printf("cxx_alloc: sum=%ld\n", sum);
    return 0;
}
