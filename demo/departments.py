"""The demo's regulatory departments: what each regulates, under which law, with which licences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

OFFICE: Final = "XA-ZWB"
"""The city government office: provides the department records."""

# R2: licences that matters link to but the government-service catalogue lacks (granted by
# the province, so the city catalogue never listed them) or has abolished.
MISSING_LICENCES: Final = frozenset({"辐射安全许可证核发", "非煤矿山安全生产许可"})
CANCELLED_LICENCES: Final = {
    "计量标准器具核准": date(2025, 3, 31),
    "机动车维修经营许可": date(2025, 3, 31),
}


@dataclass(frozen=True, slots=True)
class Regulated:
    """One kind of regulated object: the law that governs it and the licence it may need."""

    name: str
    law: str
    licence: str | None = None
    person: bool = False  # the licence is granted to natural persons, not organisations


@dataclass(frozen=True, slots=True)
class DepartmentSpec:
    """A department as the demo describes it, before codes are drawn."""

    code: str
    name: str
    abbr: str  # prefix of its document numbers, e.g. 西市监罚〔2025〕…号
    division: str
    field: str
    parent: str | None
    catalogue: str  # whose matter catalogue it implements (a district bureau: the city's)
    objects: tuple[Regulated, ...] = ()
    violations: tuple[tuple[str, str], ...] = ()  # (violation, law it breaks)
    services: tuple[tuple[str, str], ...] = ()  # other government-service items: (name, type)

    @property
    def level(self) -> str:
        """City or district level, by division."""
        return "city" if self.division == "610100" else "district"


R = Regulated

SCJG = DepartmentSpec(
    "XA-SCJG",
    "西安市市场监督管理局",
    "西市监",
    "610100",
    "市场监管",
    OFFICE,
    "XA-SCJG",
    (
        R("食品生产企业", "《中华人民共和国食品安全法》", "食品生产许可"),
        R("食品经营者", "《中华人民共和国食品安全法》", "食品经营许可"),
        R("特种设备使用单位", "《中华人民共和国特种设备安全法》", "特种设备使用登记"),
        R("工业产品生产企业", "《中华人民共和国产品质量法》", "工业产品生产许可证核发"),
        R("计量器具使用单位", "《中华人民共和国计量法》", "计量标准器具核准"),
        R("药品零售企业", "《中华人民共和国药品管理法》", "药品零售企业经营许可"),
        R("医疗器械经营企业", "《医疗器械监督管理条例》", "第三类医疗器械经营许可"),
        R("化妆品经营者", "《化妆品监督管理条例》"),
        R("广告发布者", "《中华人民共和国广告法》"),
        R("网络交易经营者", "《中华人民共和国电子商务法》"),
    ),
    (
        ("经营超过保质期的食品", "《中华人民共和国食品安全法》"),
        ("未按规定公示食品经营许可证", "《中华人民共和国食品安全法》"),
        ("销售不合格产品", "《中华人民共和国产品质量法》"),
        ("使用未经检定的计量器具", "《中华人民共和国计量法》"),
        ("发布虚假广告", "《中华人民共和国广告法》"),
        ("不按规定明码标价", "《中华人民共和国价格法》"),
    ),
    (("食品经营备案", "other"), ("企业信用修复", "public_service")),
)

CITY_DEPARTMENTS: Final = (
    SCJG,
    DepartmentSpec(
        "XA-STHJ",
        "西安市生态环境局",
        "西环",
        "610100",
        "生态环境",
        OFFICE,
        "XA-STHJ",
        (
            R("排污单位", "《中华人民共和国环境保护法》", "排污许可证核发"),
            R(
                "建设项目建设单位",
                "《中华人民共和国环境影响评价法》",
                "建设项目环境影响评价文件审批",
            ),
            R(
                "危险废物经营单位",
                "《中华人民共和国固体废物污染环境防治法》",
                "危险废物经营许可证核发",
            ),
            R("辐射工作单位", "《中华人民共和国放射性污染防治法》", "辐射安全许可证核发"),
            R("机动车排放检验机构", "《中华人民共和国大气污染防治法》"),
            R("重点排污单位", "《中华人民共和国水污染防治法》"),
            R("施工扬尘责任单位", "《中华人民共和国大气污染防治法》"),
            R("餐饮服务经营者", "《中华人民共和国大气污染防治法》"),
            R("一般工业固体废物产生单位", "《中华人民共和国固体废物污染环境防治法》"),
            R("工业噪声排放单位", "《中华人民共和国噪声污染防治法》"),
        ),
        (
            ("超标排放大气污染物", "《中华人民共和国大气污染防治法》"),
            ("未按规定运行污染防治设施", "《中华人民共和国环境保护法》"),
            ("未依法取得排污许可证排放污染物", "《排污许可管理条例》"),
            ("未按规定贮存危险废物", "《中华人民共和国固体废物污染环境防治法》"),
            ("施工工地扬尘防治措施不到位", "《中华人民共和国大气污染防治法》"),
        ),
        (("排污登记", "other"),),
    ),
    DepartmentSpec(
        "XA-YJGL",
        "西安市应急管理局",
        "西应急",
        "610100",
        "应急管理",
        OFFICE,
        "XA-YJGL",
        (
            R("危险化学品生产企业", "《危险化学品安全管理条例》", "危险化学品安全使用许可"),
            R("危险化学品经营企业", "《危险化学品安全管理条例》", "危险化学品经营许可证核发"),
            R("烟花爆竹零售经营单位", "《烟花爆竹安全管理条例》", "烟花爆竹经营（零售）许可"),
            R("非煤矿山企业", "《安全生产许可证条例》", "非煤矿山安全生产许可"),
            R("工贸企业", "《中华人民共和国安全生产法》"),
            R("有限空间作业单位", "《中华人民共和国安全生产法》"),
            R("粉尘涉爆企业", "《中华人民共和国安全生产法》"),
            R("生产经营单位", "《生产安全事故应急条例》"),
            R("安全培训机构", "《安全生产培训管理办法》"),
            R("冶金企业", "《中华人民共和国安全生产法》"),
        ),
        (
            ("未按规定开展安全生产教育培训", "《中华人民共和国安全生产法》"),
            ("未建立事故隐患排查治理制度", "《中华人民共和国安全生产法》"),
            ("未按规定配备应急救援器材", "《生产安全事故应急条例》"),
            ("有限空间作业未执行审批制度", "《工贸企业有限空间作业安全规定》"),
        ),
        (("生产安全事故应急预案备案", "other"),),
    ),
    DepartmentSpec(
        "XA-WSJK",
        "西安市卫生健康委员会",
        "西卫",
        "610100",
        "卫生健康",
        OFFICE,
        "XA-WSJK",
        (
            R("医疗机构", "《医疗机构管理条例》", "医疗机构执业登记"),
            R("公共场所经营单位", "《公共场所卫生管理条例》", "公共场所卫生许可"),
            R("集中式供水单位", "《中华人民共和国传染病防治法》", "饮用水供水单位卫生许可"),
            R("消毒产品生产企业", "《消毒管理办法》", "消毒产品生产企业卫生许可"),
            R("放射诊疗机构", "《放射诊疗管理规定》", "放射诊疗许可"),
            R("职业病危害用人单位", "《中华人民共和国职业病防治法》"),
            R("学校", "《学校卫生工作条例》"),
            R("母婴保健技术服务机构", "《中华人民共和国母婴保健法》", "母婴保健技术服务执业许可"),
            R("医师", "《中华人民共和国医师法》", "医师执业注册", person=True),
            R("护士", "《护士条例》", "护士执业注册", person=True),
        ),
        (
            ("未取得卫生许可证从事经营活动", "《公共场所卫生管理条例》"),
            ("从业人员未取得健康合格证明", "《公共场所卫生管理条例》"),
            ("未按规定进行消毒", "《消毒管理办法》"),
            ("使用非卫生技术人员从事医疗卫生技术工作", "《医疗机构管理条例》"),
        ),
        (("出生医学证明办理", "public_service"),),
    ),
    DepartmentSpec(
        "XA-JTYS",
        "西安市交通运输局",
        "西交",
        "610100",
        "交通运输",
        OFFICE,
        "XA-JTYS",
        (
            R("道路旅客运输经营者", "《中华人民共和国道路运输条例》", "道路旅客运输经营许可"),
            R("道路货物运输经营者", "《中华人民共和国道路运输条例》", "道路货物运输经营许可"),
            R("巡游出租汽车经营者", "《巡游出租汽车经营服务管理规定》", "出租汽车经营许可"),
            R(
                "网络预约出租汽车经营者",
                "《网络预约出租汽车经营服务管理暂行办法》",
                "网络预约出租汽车经营许可",
            ),
            R("机动车维修经营者", "《中华人民共和国道路运输条例》", "机动车维修经营许可"),
            R("机动车驾驶员培训机构", "《中华人民共和国道路运输条例》"),
            R(
                "出租汽车驾驶员",
                "《出租汽车驾驶员从业资格管理规定》",
                "出租汽车驾驶员从业资格证核发",
                person=True,
            ),
            R("公路涉路施工单位", "《中华人民共和国公路法》", "涉路施工许可"),
            R("超限运输车辆", "《公路安全保护条例》", "超限运输车辆行驶公路许可"),
            R("城市公共汽电车客运经营者", "《城市公共交通条例》"),
        ),
        (
            ("未取得道路运输经营许可擅自从事经营", "《中华人民共和国道路运输条例》"),
            ("出租汽车驾驶员拒载", "《巡游出租汽车经营服务管理规定》"),
            ("网约车未取得运输证从事经营", "《网络预约出租汽车经营服务管理暂行办法》"),
            ("超限运输车辆擅自行驶公路", "《公路安全保护条例》"),
        ),
        (("机动车维修经营备案", "other"),),
    ),
    DepartmentSpec(
        "XA-ZJJ",
        "西安市住房和城乡建设局",
        "西建",
        "610100",
        "住房城乡建设",
        OFFICE,
        "XA-ZJJ",
        (
            R("建筑施工企业", "《中华人民共和国建筑法》", "建筑施工企业安全生产许可"),
            R("房地产开发企业", "《中华人民共和国城市房地产管理法》", "房地产开发企业资质核定"),
            R("建设工程施工单位", "《中华人民共和国建筑法》", "建筑工程施工许可"),
            R("物业服务企业", "《物业管理条例》"),
            R("建设工程质量检测机构", "《建设工程质量管理条例》", "建设工程质量检测机构资质核准"),
            R("商品房预售项目", "《城市商品房预售管理办法》", "商品房预售许可"),
            R("燃气经营企业", "《城镇燃气管理条例》", "燃气经营许可"),
            R("建筑起重机械使用单位", "《建设工程安全生产管理条例》"),
            R("预拌混凝土生产企业", "《建设工程质量管理条例》"),
            R("房地产经纪机构", "《房地产经纪管理办法》"),
        ),
        (
            ("未取得施工许可证擅自施工", "《中华人民共和国建筑法》"),
            ("未按规定办理质量监督手续", "《建设工程质量管理条例》"),
            ("物业服务不符合合同约定", "《物业管理条例》"),
            ("违规预售商品房", "《城市商品房预售管理办法》"),
        ),
        (("房屋交易合同网签备案", "other"),),
    ),
    DepartmentSpec(
        "XA-WHLY",
        "西安市文化和旅游局",
        "西文旅",
        "610100",
        "文化市场",
        OFFICE,
        "XA-WHLY",
        (
            R("旅行社", "《旅行社条例》", "旅行社业务经营许可"),
            R("娱乐场所", "《娱乐场所管理条例》", "娱乐场所经营许可"),
            R(
                "互联网上网服务营业场所",
                "《互联网上网服务营业场所管理条例》",
                "互联网上网服务营业场所经营单位设立审批",
            ),
            R("营业性演出举办单位", "《营业性演出管理条例》", "营业性演出许可"),
            R("A级旅游景区", "《中华人民共和国旅游法》"),
            R("导游", "《导游人员管理条例》", "导游证核发", person=True),
            R("星级饭店", "《中华人民共和国旅游法》"),
            R("演出经纪机构", "《营业性演出管理条例》", "演出经纪机构营业性演出经营审批"),
            R("出版物零售单位", "《出版管理条例》", "出版物零售业务经营许可"),
            R("文物保护单位", "《中华人民共和国文物保护法》"),
        ),
        (
            ("旅行社未按规定签订旅游合同", "《旅行社条例》"),
            ("娱乐场所超时营业", "《娱乐场所管理条例》"),
            ("网吧接纳未成年人进入", "《互联网上网服务营业场所管理条例》"),
            ("未经批准举办营业性演出", "《营业性演出管理条例》"),
        ),
        (("A级旅游景区评定", "confirmation"),),
    ),
    DepartmentSpec(
        "XA-CGZF",
        "西安市城市管理和综合执法局",
        "西城管",
        "610100",
        "城市管理",
        OFFICE,
        "XA-CGZF",
        (
            R("户外广告设施设置单位", "《城市市容和环境卫生管理条例》", "户外广告设施设置审批"),
            R("占用城市道路单位", "《城市道路管理条例》", "临时占用城市道路许可"),
            R("建筑垃圾处置单位", "《城市建筑垃圾管理规定》", "城市建筑垃圾处置核准"),
            R(
                "生活垃圾经营服务单位",
                "《城市市容和环境卫生管理条例》",
                "城市生活垃圾经营性清扫、收集、运输、处理服务审批",
            ),
            R("餐厨垃圾收运单位", "《西安市餐厨垃圾管理条例》"),
            R("临街经营商户", "《西安市市容环境卫生管理条例》"),
            R("渣土运输企业", "《西安市建筑垃圾管理条例》"),
            R("城市绿地占用单位", "《城市绿化条例》", "临时占用城市绿化用地审批"),
            R("城市照明设施管理单位", "《城市照明管理规定》"),
            R("违法建设当事人", "《中华人民共和国城乡规划法》"),
        ),
        (
            ("擅自设置户外广告设施", "《城市市容和环境卫生管理条例》"),
            ("占用城市道路从事经营", "《城市道路管理条例》"),
            ("未按规定处置建筑垃圾", "《城市建筑垃圾管理规定》"),
            ("擅自占用城市绿地", "《城市绿化条例》"),
        ),
        (("门前三包责任书签订", "public_service"),),
    ),
)


def _district_bureau(code: str, district: str, abbr: str, division: str) -> DepartmentSpec:
    # District bureaus implement the city's catalogue and grant food licences locally.
    return DepartmentSpec(
        code,
        f"西安市{district}市场监督管理局",
        abbr,
        division,
        "市场监管",
        SCJG.code,
        SCJG.code,
        violations=SCJG.violations,
        services=(("食品经营许可", "licensing"), ("食品小经营店登记", "other")),
    )


DISTRICT_DEPARTMENTS: Final = (
    _district_bureau("YT-SCJG", "雁塔区", "雁市监", "610113"),
    _district_bureau("WY-SCJG", "未央区", "未市监", "610112"),
    _district_bureau("CA-SCJG", "长安区", "长市监", "610116"),
)

OFFICE_SPEC: Final = DepartmentSpec(
    OFFICE, "西安市人民政府办公厅", "市政办", "610100", "综合协调", None, OFFICE
)

ALL_DEPARTMENTS: Final = (OFFICE_SPEC, *CITY_DEPARTMENTS, *DISTRICT_DEPARTMENTS)

# How often each department acts; the market-regulation family does half the work.
ACTIVITY: Final = {
    "XA-SCJG": 50,
    "XA-STHJ": 10,
    "XA-YJGL": 9,
    "XA-WSJK": 8,
    "XA-JTYS": 5,
    "XA-ZJJ": 7,
    "XA-WHLY": 5,
    "XA-CGZF": 6,
}

# Which departments act on a subject, by the section letter of its industry code.
SECTION_ACTIVITY: Final = {
    "A": {"XA-SCJG": 50, "XA-STHJ": 30, "XA-YJGL": 20},
    "C": {"XA-SCJG": 35, "XA-STHJ": 30, "XA-YJGL": 30, "XA-WSJK": 5},
    "E": {"XA-ZJJ": 55, "XA-CGZF": 20, "XA-STHJ": 15, "XA-YJGL": 10},
    "F": {"XA-SCJG": 75, "XA-CGZF": 10, "XA-YJGL": 5, "XA-WSJK": 5, "XA-STHJ": 5},
    "G": {"XA-JTYS": 65, "XA-YJGL": 15, "XA-STHJ": 10, "XA-SCJG": 10},
    "H": {"XA-SCJG": 70, "XA-STHJ": 8, "XA-WSJK": 8, "XA-CGZF": 8, "XA-YJGL": 3, "XA-WHLY": 3},
    "K": {"XA-ZJJ": 70, "XA-CGZF": 15, "XA-SCJG": 15},
    "L": {"XA-SCJG": 60, "XA-WHLY": 25, "XA-CGZF": 15},
    "O": {"XA-SCJG": 55, "XA-STHJ": 20, "XA-JTYS": 10, "XA-CGZF": 15},
    "Q": {"XA-WSJK": 75, "XA-SCJG": 20, "XA-STHJ": 5},
    "R": {"XA-WHLY": 60, "XA-SCJG": 25, "XA-CGZF": 15},
}
