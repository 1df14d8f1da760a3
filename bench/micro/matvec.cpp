// Decode matvec variants on one thread, against a plain read of the same bytes: which loop shape streams an F16
// matrix at the read bandwidth (the measurement behind native/cpu/matmul_tile.h matvec_rows and
// native/load/resident_memory.h). Build: g++ -O3 -std=c++17 -march=native bench/micro/matvec.cpp -o /tmp/matvec
// Run: /tmp/matvec K O MODE [FILE]   MODE 0: 4 KiB pages, 1: huge pages, 2: slices of FILE mapped (page cache).
#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <sys/mman.h>
#include <cstdint>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
static double now(){return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();}
static inline __m512 ld(const uint16_t* p){return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p));}
template<int R>
void mv(float* out,const float* x,int64_t K,const uint16_t* w,int64_t O,int64_t ahead,bool pf,int loc){
  for(int64_t o=0;o+R<=O;o+=R){
    __m512 acc[R]; const uint16_t* wr[R];
    for(int j=0;j<R;j++){acc[j]=_mm512_setzero_ps(); wr[j]=w+(o+j)*K;}
    for(int64_t k=0;k+32<=K;k+=32){
      if(pf){ for(int j=0;j<R;j++){ if(loc==3)__builtin_prefetch(wr[j]+k+ahead,0,3); else if(loc==0) __builtin_prefetch(wr[j]+k+ahead,0,0); else __builtin_prefetch(wr[j]+k+ahead,0,1);} }
      __m512 x0=_mm512_loadu_ps(x+k), x1=_mm512_loadu_ps(x+k+16);
      for(int j=0;j<R;j++){acc[j]=_mm512_fmadd_ps(x0,ld(wr[j]+k),acc[j]); acc[j]=_mm512_fmadd_ps(x1,ld(wr[j]+k+16),acc[j]);}
    }
    for(int j=0;j<R;j++) out[o+j]=_mm512_reduce_add_ps(acc[j]);
  }
}
// one row at a time, 4 accumulators
void mv1(float* out,const float* x,int64_t K,const uint16_t* w,int64_t O,int64_t ahead,bool pf){
  for(int64_t o=0;o<O;o++){ const uint16_t* r=w+o*K; __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0;
    for(int64_t k=0;k+64<=K;k+=64){ if(pf){__builtin_prefetch(r+k+ahead,0,3);__builtin_prefetch(r+k+ahead+32,0,3);}
      a0=_mm512_fmadd_ps(_mm512_loadu_ps(x+k),ld(r+k),a0);a1=_mm512_fmadd_ps(_mm512_loadu_ps(x+k+16),ld(r+k+16),a1);
      a2=_mm512_fmadd_ps(_mm512_loadu_ps(x+k+32),ld(r+k+32),a2);a3=_mm512_fmadd_ps(_mm512_loadu_ps(x+k+48),ld(r+k+48),a3);}
    out[o]=_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0,a1),_mm512_add_ps(a2,a3)));}
}
float probe(const uint16_t* p, size_t n){ __m512 a=_mm512_setzero_ps(),b=a; for(size_t i=0;i+64<=n;i+=64){a=_mm512_add_ps(a,_mm512_castsi512_ps(_mm512_loadu_si512(p+i)));b=_mm512_add_ps(b,_mm512_castsi512_ps(_mm512_loadu_si512(p+i+32)));} return _mm512_reduce_add_ps(_mm512_add_ps(a,b));}
int main(int argc,char**argv){
  int64_t K=atoi(argv[1]), O=atoi(argv[2]); int huge=atoi(argv[3]);
  size_t n=size_t(O)*K, bytes=n*2; int copies=int((512u<<20)/bytes)+1;
  std::vector<uint16_t*> ws;
  if(huge==2){ int fd=open(argv[4],O_RDONLY); struct stat st; fstat(fd,&st); char* m=(char*)mmap(nullptr,st.st_size,PROT_READ,MAP_PRIVATE,fd,0); madvise(m,st.st_size,MADV_WILLNEED);
    copies=0; for(size_t off=4096; off+bytes<=size_t(st.st_size) && copies<64; off+=bytes){ ws.push_back((uint16_t*)(m+off)); copies++; } }
  else for(int c=0;c<copies;c++){void*p;posix_memalign(&p,2<<20,bytes);madvise(p,bytes,huge?MADV_HUGEPAGE:MADV_NOHUGEPAGE);uint16_t*w=(uint16_t*)p;for(size_t i=0;i<n;i++)w[i]=0x3c00^(i&0x3ff);ws.push_back(w);}
  std::vector<float> x(K,0.5f),out(O);
  auto run=[&](const char* name, auto f){ double best=1e9; for(int r=0;r<4;r++){double t=now(); for(int c=0;c<copies;c++) f(ws[c]); t=(now()-t)/copies; if(t<best)best=t;} printf("  %-28s %6.2f GB/s\n",name,bytes/best/1e9);};
  printf("K=%ld O=%ld huge=%d %.1fMB x%d\n",K,O,huge,bytes/1e6,copies);
  run("probe",[&](const uint16_t* w){volatile float s=probe(w,n);});
  run("R4 nopf",[&](const uint16_t* w){mv<4>(out.data(),x.data(),K,w,O,0,false,3);});
  for(int64_t a: {256,512,1024,2048,4096}){ char b[64]; snprintf(b,64,"R4 pf%ldB",a*2); run(b,[&](const uint16_t* w){mv<4>(out.data(),x.data(),K,w,O,a,true,3);}); }
  run("R4 pf next block",[&](const uint16_t* w){mv<4>(out.data(),x.data(),K,w,O,4*K,true,3);});
  run("R4 pf next block nta",[&](const uint16_t* w){mv<4>(out.data(),x.data(),K,w,O,4*K,true,0);});
  run("R8 nopf",[&](const uint16_t* w){mv<8>(out.data(),x.data(),K,w,O,0,false,3);});
  run("R8 pf 2KB",[&](const uint16_t* w){mv<8>(out.data(),x.data(),K,w,O,1024,true,3);});
  run("R1x1acc nopf",[&](const uint16_t* w){mv<1>(out.data(),x.data(),K,w,O,0,false,3);});
  run("R2 nopf",[&](const uint16_t* w){mv<2>(out.data(),x.data(),K,w,O,0,false,3);});
  run("R1x4acc nopf",[&](const uint16_t* w){mv1(out.data(),x.data(),K,w,O,0,false);});
  run("R1x4acc pf 4KB",[&](const uint16_t* w){mv1(out.data(),x.data(),K,w,O,2048,true);});
}
