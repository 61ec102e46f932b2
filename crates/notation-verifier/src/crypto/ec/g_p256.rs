//! The odd multiples G, 3G, ..., 127G of P-256's generator, affine, with the
//! coordinates in Montgomery form (x·2^(29·L) mod p), big-endian hex.
//! Generated and checked by `ec::tests::generator_tables` against the
//! curve crate (`VNS_UPDATE_TABLES=1` rewrites this file).

use super::point::Affine;
use super::{P256Field, G_TABLE, P256_LIMBS};

pub(super) static TABLE: [Affine<P256Field, P256_LIMBS>; G_TABLE] = [
    // 1G
    Affine::from_hex(
        "120beed7a6eab8cc3f6e656eec44a20eb752bf88fdb6c02f3ce61a8315228783",
        "ae3fe314b10bb0aa5d10d11ba43e64b169571c87433c8b9bbe4a6af9d2aac150",
    ),
    // 3G
    Affine::from_hex(
        "d26d47fadfee8fc8d5aefbb0f977931604ff093d0fb03f7ff587f209dd7824e4",
        "be0d4556b0f980d51041062345dd31cb07c8f5870c3fc356098b83f93074fd7a",
    ),
    // 5G
    Affine::from_hex(
        "20f2c0ca20a478f98396b55a0ed841921d8c9339972a6fb7c37155d88b8c3eb9",
        "740ed773ba3d22b8a81530efcf43ed0e78ad1deebd71057d6613695cf749e20e",
    ),
    // 7G
    Affine::from_hex(
        "774a233a6247c07c87d556a1847761057a40427847801ee0e8c6a9d402e769e2",
        "5dbb22cac4810ce0f2677b8ef92832ace85e5e2eb4cf7ba508fa0607eb73a9bd",
    ),
    // 9G
    Affine::from_hex(
        "0b66103a189c2d4998138088991d60157cd7fd8f34f5082eb92dd1e4c9c41d1c",
        "0ccb39c0b06bf3646dc033511625e34ad5ef7db8cba8bc63d6eeef548be66281",
    ),
    // 11G
    Affine::from_hex(
        "ce121e3393920e5cfe7482b1b58356b3bc80f2a6cffbfc1d4fa4c14c48bc8087",
        "1260048924b711b481b55123d5ac87a4a1f273cfafec39034ed0ac257289d10d",
    ),
    // 13G
    Affine::from_hex(
        "708ef59872b6eb29979a87eab3d30221c6aced22adfa61b99884ac6965dae12e",
        "7810ed583cf6f2d09a0c8457a3eb782d0e9071ef85da5c66aea5721801dc2fff",
    ),
    // 15G
    Affine::from_hex(
        "5541c87d5a7b4121c66e849c90326e0079847daedc4fc96e579b16f78c00ab7c",
        "0842e1520f35be889df4dbcef148f2faecc6aa84548364a8170a49ec70788ba4",
    ),
    // 17G
    Affine::from_hex(
        "346b81658f4ae9be1e272ea59fc5bffe2ec496bd8142ef72e123b97aa78b93b8",
        "7aa244e34e9879e8e9c48fe1a3107760aeb7e600139701c44fa628d27cf330fd",
    ),
    // 19G
    Affine::from_hex(
        "ca8b852412f87f7810844eeea588358d06c75725bc342ddfd5225754acb35d1f",
        "e41dc4cba24b2f52accbd37c72a1182b00c48941752ef8a5a6dd3cfb898d2d7e",
    ),
    // 21G
    Affine::from_hex(
        "9d5b3eb52cec5f70a54a0d8b47e7660e9c364c8bf07e8faac5c99d9826b6411d",
        "10dabe5128eff4574ea047cff585348361f5b7f877678c3e53ba965c50dcb738",
    ),
    // 23G
    Affine::from_hex(
        "e59d4f97e4f7e845104bf4546b080d26f8f4fcfec5c3edde9f0eca65bc8a0d15",
        "7a0d0f820eeccdd900d1c26e3585ee3cbfb49374e533e9406c149f73c8f0b530",
    ),
    // 25G
    Affine::from_hex(
        "cce85d7ea86545ca72b326665e3e75edf83693cbad6cf6149463359b06f0f3f2",
        "7291b879def32cf340d10b3936e63dd2d98c62397e872a0971b93fd692cc450f",
    ),
    // 27G
    Affine::from_hex(
        "f154a978def8ed363a593d6109ffbafa6d485ae2d7ee626085855e92fc5fd693",
        "a8620d20097bc620b2fa210f1d6997677a18cdf6b6ff6b124016f741312bce05",
    ),
    // 29G
    Affine::from_hex(
        "4cdf2b450c07a8f6894e04e062f73c5e37d2c725b24b100bcbb68d596cdc265c",
        "f302854b477c436b52cd272eef8c33f208e488ee5f6314731b6cce6b84111326",
    ),
    // 31G
    Affine::from_hex(
        "91b89f283f90f67fdead13a79eec01bba79efcd6e602fcdc5ee78d2ceabff132",
        "715d1247af68e8a15d9dbfa193007f85b24394351d6c051b3d3fd029d4a6533e",
    ),
    // 33G
    Affine::from_hex(
        "7d8d0d240896218f813895ccaaf15730b9d5cf836d1e2070e2a28ac1ecc8a686",
        "2d88608e65ec7889212c09eec7e2ae8aa13a24f508fabded5890656751d83e36",
    ),
    // 35G
    Affine::from_hex(
        "4c8170e1547ca40871c8269df856990e85dc8c6b67ced6ffa2d08ffbd8cfdeb9",
        "75202c56768f5eff9c95624d646f5ee6278601858f0a5aaca74032119d6d5525",
    ),
    // 37G
    Affine::from_hex(
        "ec7470fff4729d74ae9175d4cefb00d6c6c8b18be2f1aaa008cf78b199c116a4",
        "166c287740111513c7d79ca2ab08c59cf5bb47c2e41b0a142568914fa79d76cb",
    ),
    // 39G
    Affine::from_hex(
        "0a7c9891c630d575d1e46fa2df66cc8deb5ce294e17268d53b1291140b38284b",
        "81781cae23248107f70c9f5c29cf6385d894eccf30510edc5b0fa46c78a5f301",
    ),
    // 41G
    Affine::from_hex(
        "02014a0e602c29ead94222a739c44e2dfbfc169ae0e5044c49ac0925da45d233",
        "e17fdd9e71094f5acee64b23aafb39d6df29a5bb0fd348f6d61b54546b8c51fe",
    ),
    // 43G
    Affine::from_hex(
        "f390bb69b6033294fb35b200ae8b303018b7f68ef10e7f49fe47ffa4914fa0c2",
        "ef2be9fab65bb40bd239a774bcd46309b05a0a555b9cb51748360c4c34d2cd88",
    ),
    // 45G
    Affine::from_hex(
        "29efa6aab0464ee663d15c0ae8efeb00065281558d8dc303dc84d99ab9af37fd",
        "e7597fdf9b3cd694e5dedbd8ff019038a4a88d24e56674b8e8f972cf0574435a",
    ),
    // 47G
    Affine::from_hex(
        "72d32ea674f17fa46415fd8e2b5e58e14c49f51dd90720c5078ea27954ec12e9",
        "77ff0de0bbbfa4cd9033aa2bbdb27a937289c1fc75d9426440eab99b243ac1d3",
    ),
    // 49G
    Affine::from_hex(
        "7b7cc11ef6fb656ae99a16450ecc24fffce090757b8d212432a16843fed59a75",
        "7280eff848ff46afaf1eb25ef031db04c28fa4e48c8b6b506f92450bc2213d1a",
    ),
    // 51G
    Affine::from_hex(
        "41d7c1c587f4886143bd70a5e8631a9c41781729cbdbe7ea119d838767ec993a",
        "e63c708e5ea9859934bc47b04d038c4c3e2a2371c34beca6e169d4ee6483d47a",
    ),
    // 53G
    Affine::from_hex(
        "874631c30cc695f525d17db519159b2bf387f8755e48cf32e6b2c70a8d89b1bd",
        "743b4b4768ca50572ab79a5b95fc32e7b705edcb44227e5002cfe83863964c9f",
    ),
    // 55G
    Affine::from_hex(
        "9dd0893ff6e61b96bd61c948d90298263dd4b7d5fdeb7cc4b1777f3ce60ad06b",
        "bd002802299e7e9459ed4d101ca3195dceb3f0efc4f4d69d5692b8b403057bc4",
    ),
    // 57G
    Affine::from_hex(
        "2653062559f19968d0425c7fa3d5e7037fdd4ae0e70b6527d9065cef59594518",
        "4898d8db002ec4bdb564c658f36f402ae900c19bcc2f0557213e5b655593cb3b",
    ),
    // 59G
    Affine::from_hex(
        "8575637a5baa76f072e4fd545a2f86c4201aba6c1a0c7a2d3a89dacb88d551c9",
        "0c49331cdf6f5158ca3ee02f9c8eff0ef15f9a6106fd7d54109d2182a84ce094",
    ),
    // 61G
    Affine::from_hex(
        "294894e67066bf3b39beca6fd9d6a14b2aacc4222809f086ccfd634fe9809993",
        "a378f011e57b7e75ccb08cdb48977448e78ad01cda86a1baff5f033b7d736d21",
    ),
    // 63G
    Affine::from_hex(
        "ec7486905f8ad1b2b86ec652305964c07389001e0a31ddb71a7b2633ff23fca0",
        "10ed403a12b36e0057ef91f22461bc15931725fe49d032ee0f809aa707ced752",
    ),
    // 65G
    Affine::from_hex(
        "2c5188e0d6c12157ec73daceecaecbcf2a4fb6f74cde973b8460dd7f9b765640",
        "a12d5894e2e8e9f6921b319e7c0abac6796ed2284cb3e8ccdd6c5e372af6942f",
    ),
    // 67G
    Affine::from_hex(
        "04315a2cbd2d4a829106c55123d430d82da18a379149bbb0de09a76a3f38723d",
        "ab3afd9251ec5b1cc7d8e5186152d400b5e8ad21cc415d058e6b5825e675ef5f",
    ),
    // 69G
    Affine::from_hex(
        "3a75a0b391df45500ad0d1123d35c130f30d4a7dc37fc4b3cbb42398bcf268e9",
        "a6f63f578df7d97724d58aa751ba24d37d41a1d7caba29f30f60d0fe9d6b9ecd",
    ),
    // 71G
    Affine::from_hex(
        "a8436bc444206c84295513680ea1a02938f9728480b0097e33e705d2554f0c9b",
        "e998f65c6f0cf2183f28fcd2d9a0ae40614233f1a95e3d8ad9a003c73be6ce4a",
    ),
    // 73G
    Affine::from_hex(
        "5b59bee3df05f9b929245de2fc5363456694fb6b2df70a55d1f1fc3dd607a356",
        "72e4aa5b5f050efccdb24a4bd05ab6770e374c6480b9413b71b9903e85223dd8",
    ),
    // 75G
    Affine::from_hex(
        "45f1f7e885fa3eca246e2c4475ee5c19f51941b14f54d56c2da5805f6ec012b4",
        "9437bc3e184605b8f300f4ee08ad4fcf7c33e1b9a886f50a0e4eb16f1e7a0804",
    ),
    // 77G
    Affine::from_hex(
        "62bc92e2ab75d6188618c84565f3892e3350f7b041d939c1443277f84cdf0b9b",
        "a9b93ac2a20bf3b569e18f0efd729d48f10a4555d3fb76507862737c1a6e6430",
    ),
    // 79G
    Affine::from_hex(
        "daaad5681264ff801ec8502cbf13c29ba60dc535a2edf1748040da661fe1d24b",
        "ebbebd99234843e40e6e188a02506ea12f4a9fdd244f62d85630e15f06437716",
    ),
    // 81G
    Affine::from_hex(
        "17dd63797fe31a5a12f8e222cb8dc991d3a15e645746307a74bb03f8c7abcf3c",
        "59e8834c0b7828aa7b7fb739e521a3f405b7883efcb653bfccafe26100326f6f",
    ),
    // 83G
    Affine::from_hex(
        "e610dd28448794860f57d7e5570090a24ba8e2848ce3334593dcc5b866c74459",
        "fe00265af6c97c8ea6d473b6338c24cbd362c238c4b55aeb8a560a38c9c13bb2",
    ),
    // 85G
    Affine::from_hex(
        "7f908b0bbc23dfd1d7e5ecbd4cac835dec2fbfefb5eecee6c8d61bafc3dc6295",
        "b2ea3c5e3975d7d5600cd5c3e5046d39d23dc4de2850237331bf5831e23256c2",
    ),
    // 87G
    Affine::from_hex(
        "7a040871104d953b824a532fed60ce170accc940a968136a2c653fef69b16585",
        "e92104cfb9fe2ae01e873560dcb1c7d9a0f7868346baad8021ca44cc3bb79635",
    ),
    // 89G
    Affine::from_hex(
        "b11594ffecb70090d424688c621d6b4c5aa3c528aa890fb83dcc4c94fd57ccf7",
        "2a1f0fdc423c88a15693ba413f31f34c80711ef973fffdf6f65097c29f6d234e",
    ),
    // 91G
    Affine::from_hex(
        "423bd1faad24e0a9473e0577dba9e8e4e2277695cd52971b035b270d305f0ca0",
        "4e157ef48aa9da76514b736168d4b3e46a8e33e346ff8d1ab0e2718c7925ed29",
    ),
    // 93G
    Affine::from_hex(
        "b0368e23fbe4930944f0d0dc2c72c0e15d59535fa6d635ec99fb8e1b28a7a520",
        "6b588cdaa9ff7677ed834f1f3450a5e416043873e433b8b04521c4a7ac3eda48",
    ),
    // 95G
    Affine::from_hex(
        "d51f3fe32e8523e5424fe5795425a1acd095aeb7668dfa44c7c073766119880e",
        "e527fb4c9ade8736c36396a6888ab42ca933931a8bb774190040936d15433c87",
    ),
    // 97G
    Affine::from_hex(
        "35ca7028f03038dfd091c3a4acd00bdb519b6ee92fc87e9b92064775f9d6c9be",
        "f7a8e1ed79e7cd2d8aefe3e64c16ecf0be9b38886d16fce5b8f71cd38e18ef83",
    ),
    // 99G
    Affine::from_hex(
        "88715c4b9ccb60d5a0a45fa9534762f63e3576b64f686e25a06f7f07f2865697",
        "4ce7fc139f9acb37747858f731fe966f56b147e5aa07c8c636afd4508d278089",
    ),
    // 101G
    Affine::from_hex(
        "3638473f9b4933b04c206e98ad34c0577d229a5a339a04d6f52dc149d4dfbefd",
        "99d3c16d7517f8d951428c897ceef26e624a303be42d0f96bede1fd5b8335332",
    ),
    // 103G
    Affine::from_hex(
        "a3d90e6787870dccece1c837ec32483a150ebd053efee58ac97bb4d8e3f1a05e",
        "85363f17c3a7db12df5cc126149f248bbef26c030c2cde6015d833dd17efa2e2",
    ),
    // 105G
    Affine::from_hex(
        "01ab57f9bc0750cb11d82c0563a51fb962224b735537489bcdbb96ef66e2720d",
        "7ada2257d3ca25cfc68db60e397f92f90e0af92d79cffcbabd8f777ea64f073a",
    ),
    // 107G
    Affine::from_hex(
        "c40c049af9c34de81f39bd7d3edd0ee6ae3c9a0e259c668594175386f2de98fd",
        "9afd284ad4e01823010073c05bc5fe24ea9c84a84fed0f9642b3c116ec6d3b99",
    ),
    // 109G
    Affine::from_hex(
        "e41648f0a91bc416f61242e9bf0c3e9fa9ec3c8c35d1a275d8c7597ba21dba06",
        "fb5dc72e956258d69ac4575d70f3133ce453b11fd9acc1b5e83308fd7e7bef0b",
    ),
    // 111G
    Affine::from_hex(
        "9f009af0536d440031e6f761065882c64fb5862f0e5e11bb0fe95c10cca75501",
        "35e159d109a8e605e15b98ae291626a3981a99b5475f4ce9738a8714cfc42e7f",
    ),
    // 113G
    Affine::from_hex(
        "69c1a0ff4561a74b874bd97306a70d26513d0db41d81a81424bcd836fd79710e",
        "3b0413b53e74a7ae2799520e8fe33d9f4d79b6230c0ed73c1b25d34a32666c0c",
    ),
    // 115G
    Affine::from_hex(
        "87fecc4a1d994dc244c4f890a36b78fe2b7241e61bf9cad5a33c072233ed956f",
        "2bbb3b2e1304363e91bf0abfc5e926ead6ed8ada548764f73ba57e5abeb6b7fd",
    ),
    // 117G
    Affine::from_hex(
        "7b7d8fc635e53618121d1aa8f2d1066ab47763442d33d2411c9892036c41b897",
        "9beff0ad901ffc6eb866725f4ce50b8a19eda230b2346a124ea1bce7ca3c3785",
    ),
    // 119G
    Affine::from_hex(
        "da17310faf6feab87c45741e7493f680c55f6f76c629bbd0f5e333cd988e60ad",
        "dbe202becddce05bfd028701ecf6a282fa538c71ef6e92f02c59ea05aca7fb3f",
    ),
    // 121G
    Affine::from_hex(
        "351a833aefe21c08fa57e9ed07661a3ae2c05a9a1cbfc4029ae4a351807c7e9c",
        "d0739b16d32a0b805e9a9c3267290e5fe6309086414932d4928343ced41d5af5",
    ),
    // 123G
    Affine::from_hex(
        "af949b233c6a90ddf07a36d22fc8e4ab4e292e2e14bd518c5d50b30076b16045",
        "d72083a23cf118960e0e4d82dc7c055b4099911cc2ffea87ed369a9369a86495",
    ),
    // 125G
    Affine::from_hex(
        "3fc472ec70b7394b96eda5a3da64ab3ee5b56d8f4ae67f5556a99f926e802615",
        "2dad5f2e7fd778143b8bf5828bfe1aa452472754f3e79c425161a497e4433e16",
    ),
    // 127G
    Affine::from_hex(
        "bfcd50d40946d9ea0e540c35cc33e50e1d202d99bbfb2506dd0976dbdc6b6822",
        "ceb244837c78296c1510f2489e807e5fa38952d35ac05a1356d2d17ec00b2cae",
    ),
];
